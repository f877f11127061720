"""Pinned messages in real browsers: the owner pins a message in one window, a member's
window lists it under "Pinned" at once (and the entry shows the message in the log),
and unpinning takes it off there too."""

from __future__ import annotations

import re

import pytest

from tests.e2e.pages import LIVE, PASSWORD, add_messages, create_user, expect, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def room(transactional_db):
    """A public room of alice's (its owner) that bob belongs to, with a few messages;
    made with the ORM before any browser opens."""
    from rooms import services

    alice = create_user("alice")
    bob = create_user("bob")
    room = services.room_create(creator=alice, name="Notices")
    services.room_join(room=room, user=bob)
    add_messages(room, alice, ["Standup moves to nine\nBring coffee", "lunch at noon", "bye"])
    return room


def article(page, text: str):
    return page.get_by_role("log").get_by_role("article").filter(has_text=text)


def open_room(page, room) -> None:
    page.goto(f"/rooms/{room.id}/")
    expect(page.get_by_role("status").filter(has_text="Connected")).to_be_visible()


def test_a_pin_shows_in_every_window_pinned_list_live_and_unpinning_removes_it(room, new_page):
    alice, bob = new_page(), new_page()
    log_in(alice, "alice", PASSWORD)
    log_in(bob, "bob", PASSWORD)
    open_room(alice, room)
    open_room(bob, room)
    pinned_list = bob.get_by_role("list", name="Pinned")
    expect(pinned_list.get_by_role("listitem")).to_have_count(0)
    expect(bob.get_by_text("No pinned messages.")).to_be_visible()
    # A plain member of a public room does not keep its pins.
    expect(article(bob, "lunch at noon").get_by_role("button", name="Pin message")).to_have_count(0)

    standup = article(alice, "Standup moves to nine")
    standup.hover()
    standup.get_by_role("button", name="Pin message", exact=True).click()
    entry = pinned_list.get_by_role("link")
    expect(entry).to_have_count(1, timeout=LIVE)
    expect(entry).to_have_text("Alice: Standup moves to nine")  # author, first line
    expect(entry).to_have_attribute("title", "Pinned by @alice")
    expect(bob.get_by_text("No pinned messages.")).to_be_hidden()
    expect(article(bob, "Standup moves to nine").locator(".pin-marker")).to_be_visible()
    expect(alice.get_by_role("list", name="Pinned").get_by_role("link")).to_have_count(1)

    entry.click()  # the message is on the page: it is shown there, no reload
    expect(article(bob, "Standup moves to nine")).to_have_class(re.compile(r"\bfound\b"))
    assert bob.url.endswith(f"/rooms/{room.id}/")

    # A second pin goes on top (newest pin first).
    lunch = article(alice, "lunch at noon")
    lunch.hover()
    lunch.get_by_role("button", name="Pin message", exact=True).click()
    expect(pinned_list.get_by_role("link")).to_have_text(
        ["Alice: lunch at noon", "Alice: Standup moves to nine"], timeout=LIVE
    )

    standup.hover()
    standup.get_by_role("button", name="Unpin message", exact=True).click()
    expect(pinned_list.get_by_role("link")).to_have_text(["Alice: lunch at noon"], timeout=LIVE)
    expect(article(bob, "Standup moves to nine").locator(".pin-marker")).to_have_count(0)

    # What a window that opens now reads is the same list.
    bob.reload()
    expect(bob.get_by_role("status").filter(has_text="Connected")).to_be_visible()
    expect(bob.get_by_role("list", name="Pinned").get_by_role("link")).to_have_text(
        ["Alice: lunch at noon"], timeout=LIVE
    )
    bob.screenshot(path="/tmp/room-pins.png")
