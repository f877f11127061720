"""chatsite.middleware: Django's session, common, auth and messages middleware with
their hooks in the event loop for async requests. What must still work: a session
that changes is saved (its hook goes to the sync thread), a flash message survives to
the next page, and the headers the other hooks set are there."""

from __future__ import annotations

import pytest
from django.test import AsyncClient

from rooms import services

pytestmark = pytest.mark.django_db(transaction=True)


async def test_an_async_login_saves_the_session_and_the_next_request_is_signed_in(alice):
    client = AsyncClient()
    response = await client.post(
        "/accounts/login/", {"username": "alice", "password": "correct-horse-42"}
    )
    assert response.status_code == 302
    assert client.cookies.get("sessionid") is not None
    page = await client.get("/")
    assert page.status_code == 200
    assert "alice" in page.content.decode()
    assert page["Vary"] and "Cookie" in page["Vary"]  # the session was read
    assert page["X-Frame-Options"] == "DENY"


async def test_a_flash_message_from_an_async_request_shows_on_the_next_page(alice, bob):
    from channels.db import database_sync_to_async

    room = await database_sync_to_async(services.room_create)(creator=alice, name="Den")
    client = AsyncClient()
    await client.aforce_login(bob)
    # bob may not change alice's room: the view flashes why and redirects.
    response = await client.post(f"/rooms/{room.id}/settings/", {"topic": "mine now"})
    assert response.status_code == 302
    page = (await client.get(response["Location"])).content.decode()
    assert "Only the room&#x27;s owner or moderators can change it." in page


async def test_common_middleware_still_redirects_to_the_slashed_path(alice):
    client = AsyncClient()
    await client.aforce_login(alice)
    response = await client.get("/mentions")
    assert response.status_code == 301 and response["Location"] == "/mentions/"


async def test_the_request_log_names_a_token_user_without_loading_a_session_user(alice, caplog):
    from channels.db import database_sync_to_async

    from tests.conftest import token_for

    token = await database_sync_to_async(token_for)(alice)
    bearer = {"Authorization": f"Bearer {token}"}
    client = AsyncClient()
    with caplog.at_level("INFO", logger="chatsite.request"):
        assert (await client.get("/api/rooms", headers=bearer)).status_code == 200
        assert (await client.get("/mentions")).status_code == 301  # no user looked up
    lines = [r.getMessage() for r in caplog.records if r.name == "chatsite.request"]
    assert "path=/api/rooms status=200" in lines[0] and lines[0].endswith(f"user={alice.pk}")
    assert "path=/mentions status=301" in lines[1] and lines[1].endswith("user=-")


# --- Security, CSRF and X-Frame-Options in the loop (chatsite.middleware, chatsite.checks)


@pytest.fixture
def hook_threads(monkeypatch):
    """Which thread ran each hook of the three inline middlewares: {hook name: thread}.
    Only the chain's own instances count: a view decorated with csrf_protect runs
    Django's plain CsrfViewMiddleware again inside the (sync) view."""
    import threading

    from chatsite import middleware

    seen: dict[str, threading.Thread] = {}

    def record(cls, name):
        original = getattr(cls.__mro__[2], name)  # Django's own hook

        def hook(self, *args):
            if isinstance(self, cls):
                seen[f"{cls.__name__}.{name}"] = threading.current_thread()
            return original(self, *args)

        monkeypatch.setattr(cls.__mro__[2], name, hook)

    record(middleware.InlineSecurityMiddleware, "process_request")
    record(middleware.InlineSecurityMiddleware, "process_response")
    record(middleware.InlineXFrameOptionsMiddleware, "process_response")
    record(middleware.InlineCsrfViewMiddleware, "process_request")
    record(middleware.InlineCsrfViewMiddleware, "process_view")
    record(middleware.InlineCsrfViewMiddleware, "process_response")
    return seen


async def test_a_safe_async_request_runs_every_security_hook_in_the_event_loop(alice, hook_threads):
    import threading

    from chatsite import middleware

    assert middleware.InlineCsrfViewMiddleware.__mro__[2] is middleware.CsrfViewMiddleware
    client = AsyncClient()
    page = await client.get("/accounts/login/")
    assert page.status_code == 200
    assert len(hook_threads) == 6, hook_threads
    loop_thread = threading.current_thread()
    assert {name: t for name, t in hook_threads.items() if t is not loop_thread} == {}
    # What the hooks do, still done: the headers and the CSRF cookie for the form.
    assert page["X-Frame-Options"] == "DENY"
    assert page["X-Content-Type-Options"] == "nosniff"
    assert page["Referrer-Policy"] == "same-origin"
    assert page["Cross-Origin-Opener-Policy"] == "same-origin"
    assert client.cookies.get("csrftoken") is not None


async def test_an_unsafe_async_request_is_checked_for_csrf_in_a_thread(alice, hook_threads):
    import threading

    client = AsyncClient(enforce_csrf_checks=True)
    credentials = {"username": "alice", "password": "correct-horse-42"}
    refused = await client.post("/accounts/login/", credentials)
    assert refused.status_code == 403  # no token: refused, the page rendered in the thread
    view_thread = hook_threads["InlineCsrfViewMiddleware.process_view"]
    assert view_thread is not threading.current_thread()

    await client.get("/accounts/login/")  # the cookie
    token = client.cookies["csrftoken"].value
    accepted = await client.post("/accounts/login/", {**credentials, "csrfmiddlewaretoken": token})
    assert accepted.status_code == 302
    assert client.cookies.get("sessionid") is not None


def test_a_sync_request_keeps_django_s_own_hooks(client, alice):
    client.force_login(alice)
    page = client.get("/")
    assert page.status_code == 200
    assert page["X-Frame-Options"] == "DENY" and page["X-Content-Type-Options"] == "nosniff"


def test_the_deploy_checks_of_the_three_run_for_our_subclasses(settings):
    from django.core.checks.security import base, csrf

    from chatsite import checks

    settings.SECURE_HSTS_SECONDS = 0
    settings.SECURE_SSL_REDIRECT = False
    settings.X_FRAME_OPTIONS = "SAMEORIGIN"
    settings.CSRF_COOKIE_SECURE = False
    ids = {message.id for message in checks.check_inline_middleware(None)}
    assert {"security.W004", "security.W008", "security.W019", "security.W016"} <= ids
    # Django's own run of the same checks finds no middleware of theirs, so says none
    # of that: without ours these warnings would be lost.
    assert base.check_sts(None) == [] and csrf.check_csrf_cookie_secure(None) == []


def test_a_middleware_really_missing_is_reported_under_our_id(settings):
    from chatsite import checks

    settings.MIDDLEWARE = [
        path for path in settings.MIDDLEWARE if path != "chatsite.middleware.InlineSecurityMiddleware"
    ]
    ids = {message.id for message in checks.check_inline_middleware(None)}
    assert "chatsite.W001" in ids and "chatsite.W002" not in ids and "chatsite.W003" not in ids


def test_a_django_class_listed_as_itself_is_not_reported_twice(settings):
    from django.core.checks.security import base

    from chatsite import checks

    settings.MIDDLEWARE = [
        "django.middleware.security.SecurityMiddleware"
        if path == "chatsite.middleware.InlineSecurityMiddleware"
        else path
        for path in settings.MIDDLEWARE
    ]
    settings.SECURE_HSTS_SECONDS = 0
    assert base.check_sts(None) == [base.W004]  # Django's own run says it
    assert "security.W004" not in {message.id for message in checks.check_inline_middleware(None)}
