"""Two tabs of one user agree on unread counts: the room list in one tab drops a
room's badge once the other tab has shown (and so read) the message, and counts it
while that tab is scrolled up or closed; reloads agree."""

from __future__ import annotations

import re

import pytest

from tests.e2e.pages import (
    LIVE,
    PASSWORD,
    add_messages,
    call_api,
    create_user,
    expect,
    log_in,
    wait_until_joined,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EARLIER = 40  # enough history that the log scrolls


@pytest.fixture
def chat(transactional_db):
    """alice and bob with a 1:1 chat of 40 messages, all read."""
    from rooms import services

    alice, bob = create_user("alice"), create_user("bob")
    room, _ = services.direct_get_or_create(user=alice, username="bob")
    add_messages(room, alice, [f"earlier {n}" for n in range(1, EARLIER + 1)])
    services.membership_mark_read(room=room, user=bob, seq=EARLIER)
    return room


def entry(page):
    """bob's entry for his chat with alice (named for her, @alice on hover)."""
    return page.locator("#private-rooms li").filter(has=page.locator('a[title="@alice"]'))


def unread_badge(page):
    return entry(page).get_by_role("img", name=re.compile(r"unread$"))


def post(alice, room_id: int, body: str) -> None:
    response = call_api(alice, "POST", f"/api/rooms/{room_id}/messages", {"body": body})
    assert response.status == 201, response.text()


def test_the_room_list_and_an_open_room_agree_on_unread_counts(chat, new_page):
    alice = new_page()
    log_in(alice, "alice", PASSWORD)
    lister = new_page()
    log_in(lister, "bob", PASSWORD)
    expect(entry(lister)).to_be_visible()
    expect(unread_badge(lister)).to_have_count(0)
    reader = lister.context.new_page()  # a second tab of the same browser
    reader.goto(f"/rooms/{chat.id}/")
    wait_until_joined(reader)
    log = reader.get_by_role("log")
    expect(log.get_by_text(f"earlier {EARLIER}", exact=True)).to_be_in_viewport()

    # The open tab is at the bottom: it shows the message, so it is read everywhere.
    post(alice, chat.id, "seen at once")
    expect(log.get_by_text("seen at once")).to_be_in_viewport(timeout=LIVE)
    expect(entry(lister)).to_contain_text("alice: seen at once", timeout=LIVE)
    expect(unread_badge(lister)).to_have_count(0, timeout=LIVE)
    lister.wait_for_timeout(500)  # a late refresh must not bring the badge back
    expect(unread_badge(lister)).to_have_count(0)

    # Scrolled up, the open tab shows it but has not read it.
    log.evaluate("element => { element.scrollTop = 0; }")
    post(alice, chat.id, "while scrolled up")
    expect(reader.get_by_role("button", name="Jump to latest")).to_be_visible(timeout=LIVE)
    expect(unread_badge(lister)).to_have_accessible_name("1 unread", timeout=LIVE)
    lister.reload()
    expect(unread_badge(lister)).to_have_accessible_name("1 unread")

    # Closed, the tab reads nothing.
    reader.close()
    post(alice, chat.id, "while closed")
    expect(unread_badge(lister)).to_have_accessible_name("2 unread", timeout=LIVE)

    # Opening the room again reads it all, in the list too, and after a reload.
    again = lister.context.new_page()
    again.goto(f"/rooms/{chat.id}/")
    wait_until_joined(again)
    expect(again.get_by_role("log").get_by_text("while closed")).to_be_in_viewport()
    expect(unread_badge(lister)).to_have_count(0, timeout=LIVE)
    lister.reload()
    expect(entry(lister)).to_contain_text("alice: while closed")
    expect(unread_badge(lister)).to_have_count(0)
    again.close()
