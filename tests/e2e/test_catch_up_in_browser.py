"""A tab whose connection dropped while someone edited, deleted and reacted shows all
three once it reconnects, without a reload."""

from __future__ import annotations

import pytest

from tests.e2e.pages import (
    LIVE,
    PASSWORD,
    SocketSwitch,
    add_messages,
    call_api,
    create_user,
    expect,
    log_in,
    wait_for,
    wait_until_joined,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def room(transactional_db):
    from tests.factories import RoomFactory

    alice = create_user("alice")
    create_user("bob")
    room = RoomFactory(name="Sleepy", creator=alice)
    add_messages(room, alice, ["to be edited", "to be deleted", "to be liked"])
    return room


def message_ids(page, room_id: int) -> dict[str, int]:
    listed = call_api(page, "GET", f"/api/rooms/{room_id}/messages").json()["messages"]
    return {message["body"]: message["id"] for message in listed}


def test_a_tab_that_slept_through_changes_shows_them_after_reconnecting(room, new_page):
    alice, bob = new_page(), new_page()
    log_in(alice, "alice", PASSWORD)
    log_in(bob, "bob", PASSWORD)

    switch = SocketSwitch(bob)
    bob.goto(f"/rooms/{room.id}/")
    wait_until_joined(bob)
    log = bob.get_by_role("log")
    expect(log.get_by_text("to be liked")).to_be_visible()
    bob.evaluate("window.stillTheSamePage = true")

    switch.off("network went away")
    expect(bob.get_by_role("status").filter(has_text="Reconnecting")).to_be_visible(timeout=LIVE)

    ids = message_ids(alice, room.id)
    edited = call_api(
        alice, "PATCH", f"/api/messages/{ids['to be edited']}", {"body": "was edited"}
    )
    assert edited.status == 200, edited.text()
    deleted = call_api(alice, "DELETE", f"/api/messages/{ids['to be deleted']}")
    assert deleted.status == 204, deleted.text()
    liked = call_api(
        alice, "POST", f"/api/messages/{ids['to be liked']}/reactions", {"emoji": "👍", "on": True}
    )
    assert liked.status == 200, liked.text()
    expect(log.get_by_text("to be edited")).to_be_visible()  # asleep: nothing arrived

    wait_for(bob, lambda: switch.attempts >= 2)  # it has tried (in vain) to reconnect
    switch.on("network is back")
    wait_until_joined(bob)

    edited_article = log.get_by_role("article").filter(has_text="was edited")
    expect(edited_article).to_be_visible(timeout=LIVE)
    expect(edited_article.get_by_text("(edited)")).to_be_visible()
    expect(log.get_by_text("to be edited")).to_have_count(0)
    expect(log.get_by_text("to be deleted")).to_have_count(0)
    expect(log.get_by_text("message removed")).to_have_count(1)
    chip = (
        log.get_by_role("article")
        .filter(has_text="to be liked")
        .get_by_role("group", name="Reactions")
        .get_by_role("button")
    )
    expect(chip).to_have_text("👍 1")
    assert bob.evaluate("window.stillTheSamePage") is True
