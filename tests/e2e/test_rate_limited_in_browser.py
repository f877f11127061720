"""Typing faster than the posting limit loses nothing: each refused message stays on
screen as "sending" and goes out again when the server says it may (once, in order)."""

from __future__ import annotations

import pytest

from bench.stack import Stack
from tests.e2e.pages import create_room, expect, message_texts, sign_up, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def site(transactional_db):
    """The e2e worker with a small posting burst: 3 at once, one more a second."""
    from tests.live.conftest import database_url_for_workers

    env = {"CHAT_SEND_BURST": "3", "CHAT_SEND_WINDOW": "3"}
    with Stack(1, database_url=database_url_for_workers(), env=env) as stack:
        yield stack


def test_lines_sent_faster_than_the_limit_all_arrive_once_in_order(new_page):
    alice = new_page()
    sign_up(alice, "alice")
    create_room(alice, "Fast")
    box = alice.get_by_label("Message", exact=True)
    lines = [f"line {n}" for n in range(1, 8)]
    for line in lines:
        box.fill(line)
        box.press("Enter")
    expect(box).to_have_value("")
    expect(alice.get_by_text("Sending too fast")).to_be_visible()
    wait_for(alice, lambda: message_texts(alice) == lines, timeout=20_000)
    alice.reload()  # and the server stored each once
    wait_for(alice, lambda: message_texts(alice) == lines)
