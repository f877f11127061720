"""Message search from the navigation: a partial word finds the message, the match is
highlighted, and the result opens the room scrolled to that message, still live."""

from __future__ import annotations

import re

import pytest

from tests.e2e.pages import (
    LIVE,
    PASSWORD,
    add_messages,
    create_user,
    expect,
    log_in,
    send,
    wait_until_joined,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def room(transactional_db):
    """A public room with long history on both sides of where the search will land."""
    from tests.factories import RoomFactory

    alice = create_user("alice")
    create_user("bob")
    room = RoomFactory(name="Orchard", creator=alice)
    add_messages(room, alice, [f"filler before {n}" for n in range(1, 31)])
    return room


def test_a_partial_word_finds_the_message_and_opens_the_room_there(room, new_page):
    alice, bob = new_page(), new_page()
    log_in(alice, "alice", PASSWORD)
    log_in(bob, "bob", PASSWORD)
    alice.goto(f"/rooms/{room.id}/")
    wait_until_joined(alice)
    send(alice, "Kumquats ripen early this year")
    send(alice, "Quinces are late")
    for n in range(1, 41):
        alice.get_by_label("Message", exact=True).fill(f"filler after {n}")
        alice.get_by_label("Message", exact=True).press("Enter")
        if n % 8 == 0:
            alice.wait_for_timeout(1100)  # below the posting rate limit
    expect(alice.get_by_role("log").get_by_text("filler after 40", exact=True)).to_be_visible(
        timeout=LIVE
    )

    box = bob.get_by_role("searchbox", name="Search messages")
    box.fill("kumq")
    box.press("Enter")
    expect(bob).to_have_url("/search/?q=kumq")
    results = bob.get_by_role("list", name="Search results")
    expect(results.get_by_role("listitem")).to_have_count(1)
    expect(results).to_contain_text("Orchard")
    expect(results).to_contain_text("Alice")
    expect(results.locator("mark")).to_have_text("Kumquats")
    expect(bob.get_by_role("searchbox", name="Search users")).to_have_value("")

    results.get_by_role("link", name="Kumquats ripen early this year").click()
    wait_until_joined(bob)
    log = bob.get_by_role("log")
    target = log.get_by_role("article").filter(has_text="Kumquats ripen early this year")
    expect(target).to_be_in_viewport()
    expect(target).to_have_class(re.compile(r"\bfound\b"))  # outlined for a moment
    expect(log.get_by_text("filler after 40", exact=True)).not_to_be_in_viewport()
    expect(bob.get_by_role("button", name="Jump to latest")).to_be_visible()
    expect(log.get_by_text("filler before 1", exact=True)).to_have_count(0)  # only around it

    # The history below is complete and live updates keep coming.
    send(alice, "still live")
    expect(log.get_by_text("still live")).to_have_count(1, timeout=LIVE)
    bob.get_by_role("button", name="Jump to latest").click()
    expect(log.get_by_text("still live")).to_be_in_viewport()
    texts = log.locator("article .body").all_inner_texts()
    after = [t for t in texts if t.startswith("filler after")]
    assert after == [f"filler after {n}" for n in range(1, 41)]
