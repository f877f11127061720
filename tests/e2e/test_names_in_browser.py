"""The room page names people by display name *and* @username, so a display name that
copies someone else's (old data, from before accounts/names.py refused it) cannot pass
for them: in each message's header ("Alice @mallory", small and muted, with a hover
title), in the member list, on @mentions (a hover title naming the display name), in
desktop notifications and on whispers.
User text is still set with textContent: a name holding markup shows as text."""

from __future__ import annotations

import pytest

from tests.e2e.pages import (
    LIVE,
    PASSWORD,
    add_messages,
    create_user,
    expect,
    log_in,
    send,
    wait_for,
    wait_until_joined,
)
from tests.e2e.test_mentions_in_browser import FAKE_NOTIFICATIONS, set_visibility

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def lobby(transactional_db):
    """alice ("Alice") and mallory, whose display name copies hers, in one room with
    mallory's messages; made with the ORM before the browser starts."""
    from rooms import services
    from tests.factories import RoomFactory

    alice = create_user("alice")
    mallory = create_user("mallory")
    type(mallory).objects.filter(pk=mallory.pk).update(display_name="Alice")
    sneaky = create_user("sneaky")
    type(sneaky).objects.filter(pk=sneaky.pk).update(display_name="<b>bold</b>")
    room = RoomFactory(name="Lobby", slug="lobby", creator=alice)
    for user in (mallory, sneaky):
        services.room_join(room=room, user=user)
    add_messages(room, mallory, ["@alice it is me, send me your token"])
    add_messages(room, sneaky, ["markup stays text"])
    return room


def test_messages_and_members_show_the_username_beside_the_display_name(lobby, new_page):
    page = new_page()
    log_in(page, "alice", PASSWORD)
    page.goto(f"/rooms/{lobby.id}/")
    wait_until_joined(page)
    log = page.get_by_role("log")

    forged = log.get_by_role("article").filter(has_text="send me your token")
    expect(forged.locator(".meta .author")).to_have_text("Alice")
    handle = forged.locator(".meta .handle")
    expect(handle).to_have_text("@mallory")
    expect(handle).to_be_visible()
    expect(forged.locator(".meta .author")).to_have_attribute("title", "Alice @mallory")
    expect(forged.locator(".meta")).to_contain_text("Alice@mallory")  # side by side

    # The mention reads "@alice"; hovering it names whose display name that is.
    expect(forged.locator(".mention")).to_have_text("@alice")
    expect(forged.locator(".mention")).to_have_attribute("title", "Alice @alice")

    # A display name holding markup is text, never HTML.
    marked = log.get_by_role("article").filter(has_text="markup stays text")
    expect(marked.locator(".meta .author")).to_have_text("<b>bold</b>")
    expect(marked.locator("b")).to_have_count(0)

    members = page.get_by_role("list", name="Members").get_by_role("listitem")
    expect(members.filter(has_text="@alice")).to_contain_text("Alice @alice (you)")
    expect(members.filter(has_text="@mallory")).to_contain_text("Alice @mallory")
    expect(members.filter(has_text="@sneaky")).to_contain_text("<b>bold</b> @sneaky")
    page.screenshot(path="/tmp/names-in-room.png")


def test_notifications_and_whispers_name_the_username_beside_a_copied_display_name(lobby, new_page):
    alice, mallory = new_page(), new_page()
    alice.add_init_script(FAKE_NOTIFICATIONS)
    log_in(alice, "alice", PASSWORD)
    alice.goto(f"/rooms/{lobby.id}/")
    wait_until_joined(alice)
    alice.get_by_role("button", name="Enable desktop notifications").click()
    log_in(mallory, "mallory", PASSWORD)
    mallory.goto(f"/rooms/{lobby.id}/")
    wait_until_joined(mallory)

    set_visibility(alice, "hidden")
    send(mallory, "@alice quick, your token")
    wait_for(alice, lambda: alice.evaluate("window.shownNotifications.length") == 1)
    assert alice.evaluate("window.shownNotifications")[0]["title"] == (
        "Alice (@mallory) mentioned you in Lobby"
    )
    # A whisper says whose display name it is too.
    send(mallory, "/w alice psst")
    whisper = alice.get_by_role("log").locator(".whisper")
    expect(whisper).to_have_text("Alice (@mallory) whispers to you: psst", timeout=LIVE)
