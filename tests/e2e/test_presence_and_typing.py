"""Rooms feel alive: who is online, who joined, and who is typing, in two real browsers."""

from __future__ import annotations

import pytest

from tests.e2e.pages import LIVE, create_room, expect, open_room_from_list, sign_up

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def online_names(page):
    return page.get_by_role("list", name="Online").get_by_role("listitem")


def test_the_online_list_and_the_typing_line_follow_the_other_person(new_page):
    alice, bob = new_page(), new_page()
    sign_up(alice, "alice")
    sign_up(bob, "bob")
    create_room(alice, "Living room")
    open_room_from_list(bob, "Living room")

    expect(online_names(alice)).to_have_text(["alice @alice (you)", "bob @bob"], timeout=LIVE)
    expect(online_names(bob)).to_have_text(["alice @alice", "bob @bob (you)"])
    # A room made in the browser announces a first join, as a system line for both.
    for page in (alice, bob):
        expect(page.get_by_role("log").get_by_text("bob joined", exact=True)).to_be_visible(
            timeout=LIVE
        )

    box = alice.get_by_label("Message", exact=True)
    box.press_sequentially("are you th")
    expect(bob.get_by_text("alice is typing…")).to_be_visible(timeout=LIVE)
    expect(alice.get_by_text("is typing…")).to_have_count(0)  # not told about oneself
    box.press_sequentially("ere?")
    box.press("Enter")
    expect(bob.get_by_role("log").get_by_text("are you there?", exact=True)).to_be_visible(
        timeout=LIVE
    )
    expect(bob.get_by_text("alice is typing…")).to_have_count(0)

    bob.close()
    expect(online_names(alice)).to_have_text(["alice @alice (you)"], timeout=LIVE)
