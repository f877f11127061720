"""Browser fixtures: the site served by a real daphne process on the test database,
and Debian's Chromium driven by Playwright's sync API.

Without Chromium or Playwright these tests skip with a reason; with CI=true they fail.
The sync API runs its own event loop while a browser is open, so the ORM is only
touched before the browser starts (or from another thread), and the browser always
closes before the test database is flushed (fixture order guarantees it).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from tests.conftest import need

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def site(transactional_db) -> Iterator:
    """One daphne worker on a free loopback port, on the test database (the per-run
    SQLite file, or the PostgreSQL test database)."""
    from bench.stack import Stack
    from tests.live.conftest import database_url_for_workers

    with Stack(1, database_url=database_url_for_workers()) as stack:
        yield stack


@pytest.fixture
def production_site(transactional_db) -> Iterator:
    """The site as its users see it (as `make run` serves it): DEBUG off, so the site's
    own error pages and the collected static files. A module uses it with
    `def site(production_site): return production_site`."""
    from bench.common import PRODUCTION_ENV, collect_static
    from bench.stack import Stack
    from tests.live.conftest import database_url_for_workers

    collect_static()
    env = {**PRODUCTION_ENV, "SECURE_COOKIES": "false"}
    with Stack(1, database_url=database_url_for_workers(), env=env) as stack:
        yield stack


@pytest.fixture
def base_url(site) -> str:
    return site.urls[0]


@pytest.fixture
def browser(transactional_db) -> Iterator:
    # Checked before any server starts; set up after the database and so torn down
    # before it is flushed.
    if not os.path.exists(CHROMIUM):
        need(f"Chromium is not installed at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        need(f"Playwright cannot be imported: {exc}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def new_page(browser, base_url) -> Callable:
    """new_page(accept_confirm=False, **context_options) -> a page in a fresh context
    (its own cookies). Any JavaScript error or alert() on the page fails the test; so
    does a confirm() unless the page was made with accept_confirm=True (it is accepted)."""
    errors: list[str] = []

    def make(*, accept_confirm: bool = False, **options):
        options.setdefault("locale", "en-US")
        options.setdefault("timezone_id", "UTC")
        context = browser.new_context(base_url=base_url, **options)
        context.set_default_timeout(10_000)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(f"page error: {error}"))

        def on_dialog(dialog):
            if accept_confirm and dialog.type == "confirm":
                dialog.accept()
            else:
                errors.append(f"dialog: {dialog.message}")
                dialog.dismiss()

        page.on("dialog", on_dialog)
        return page

    yield make
    assert not errors, errors
