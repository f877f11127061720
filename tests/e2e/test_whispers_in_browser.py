"""A whisper typed in one browser shows in the recipient's window only."""

from __future__ import annotations

import pytest

from tests.e2e.pages import LIVE, create_room, expect, open_room_from_list, send, sign_up

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def online_names(page):
    return page.get_by_role("list", name="Online").get_by_role("listitem")


def test_a_whisper_shows_for_its_recipient_and_sender_and_not_a_third(new_page):
    alice, bob, carol = new_page(), new_page(), new_page()
    for page, name in ((alice, "alice"), (bob, "bob"), (carol, "carol")):
        sign_up(page, name)
    create_room(alice, "Parlour")
    open_room_from_list(bob, "Parlour")
    open_room_from_list(carol, "Parlour")
    expect(online_names(alice)).to_have_count(3, timeout=LIVE)

    send(alice, "/w bob <b>meet me</b> at 5")
    received = bob.get_by_role("log").locator(".whisper")
    expect(received).to_have_text("alice whispers to you: <b>meet me</b> at 5", timeout=LIVE)
    expect(received.locator("b")).to_have_count(0)  # text, never markup
    sent = alice.get_by_role("log").locator(".whisper")
    expect(sent).to_have_text("You whisper to bob: <b>meet me</b> at 5", timeout=LIVE)
    expect(alice.get_by_role("log").locator(".pending")).to_have_count(0)

    send(carol, "after the whisper")  # carol's window is live and got nothing else
    expect(carol.get_by_role("log").get_by_text("after the whisper")).to_be_visible(timeout=LIVE)
    expect(bob.get_by_role("log").get_by_text("after the whisper")).to_be_visible(timeout=LIVE)
    expect(carol.get_by_role("log").get_by_text("meet me", exact=False)).to_have_count(0)
    expect(carol.get_by_role("log").locator(".whisper")).to_have_count(0)
