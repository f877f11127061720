"""Private chats and conferences in real browsers: a 1:1 chat opened from a profile, an
invitation that makes it a conference, leaving it, and the room list kept current."""

from __future__ import annotations

import re

import pytest

from tests.e2e.pages import (
    LIVE,
    expect,
    open_room_from_list,
    send,
    sign_up,
    wait_until_joined,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CONFERENCE = "alice, bob, carol"


def shown(page, text: str) -> None:
    expect(page.get_by_role("log").get_by_text(text, exact=True)).to_have_count(1, timeout=LIVE)


def listed(page, room_name: str):
    """The room list's entry for a private room."""
    link = page.get_by_role("link", name=room_name, exact=True)
    return page.locator("#private-rooms > li").filter(has=link)


def test_a_private_chat_becomes_a_conference_that_one_member_leaves(new_page):
    alice, bob, carol = new_page(), new_page(), new_page()  # confirm() would fail the test
    for page, name in ((alice, "alice"), (bob, "bob"), (carol, "carol")):
        sign_up(page, name)

    # Bob waits on the room list; it must change without a reload.
    bob.goto("/")
    bob.evaluate("window.stillTheSamePage = true")
    alice.goto("/accounts/users/bob/")
    alice.get_by_role("button", name="Message").click()
    # A 1:1 chat is called by the other person's name (display name; none set: username).
    expect(alice.get_by_role("heading", name="bob", exact=True)).to_be_visible()
    wait_until_joined(alice)
    box = alice.get_by_label("Message", exact=True)
    box.fill("Hi Bob!")
    box.press("Shift+Enter")
    box.press_sequentially("Got a minute?")
    box.press("Enter")

    entry = listed(bob, "alice")
    expect(entry).to_contain_text("alice: Hi Bob!", timeout=LIVE)
    expect(entry).not_to_contain_text("Got a minute?")  # the first line only
    expect(entry.get_by_label("1 unread")).to_be_visible()
    assert bob.evaluate("window.stillTheSamePage") is True

    entry.get_by_role("link", name="alice", exact=True).click()
    wait_until_joined(bob)
    shown(bob, "Hi Bob!\nGot a minute?")
    send(bob, "Sure, what's up?")
    shown(alice, "Sure, what's up?")
    # The member list says who is here.
    members = alice.get_by_role("list", name="Members")
    expect(members.locator("li", has_text="bob")).to_contain_text("online", timeout=LIVE)

    # Inviting carol into the 1:1 chat makes a new conference of the three.
    alice.get_by_label("Invite").fill("carol")
    alice.get_by_role("button", name="Invite").click()
    expect(alice.get_by_role("heading", name=CONFERENCE)).to_be_visible()
    wait_until_joined(alice)
    shown(alice, "alice started this conference with bob and carol")
    open_room_from_list(carol, CONFERENCE)
    shown(carol, "alice started this conference with bob and carol")
    open_room_from_list(bob, CONFERENCE)

    send(alice, "Welcome, Carol")
    send(carol, "Thanks!")
    send(bob, "Hi Carol")
    for page in (alice, bob, carol):
        for text in ("Welcome, Carol", "Thanks!", "Hi Carol"):
            shown(page, text)
    # The 1:1 chat stays as it was.
    assert alice.get_by_role("log").get_by_text("Hi Bob!").count() == 0

    carol.get_by_role("button", name="Leave conference").click()
    dialog = carol.get_by_role("dialog", name=re.compile(r"^Leave .*\? You will stop"))
    dialog.get_by_role("button", name="Leave").click()
    expect(carol.get_by_role("heading", name="Rooms", exact=True)).to_be_visible()
    expect(carol.get_by_role("status").filter(has_text=f"You left {CONFERENCE}.")).to_be_visible()
    for page in (alice, bob):
        shown(page, "carol left")
    expect(carol.get_by_role("link", name=CONFERENCE)).to_have_count(0)
    carol.reload()
    expect(carol.get_by_role("link", name=CONFERENCE)).to_have_count(0)
    expect(carol.locator("#private-rooms > li")).not_to_contain_text("alice: Hi Bob!")
