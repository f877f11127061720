"""Pinned messages: who may pin in each kind of room, the limit, deletion unpinning,
the rev every pin takes (so clients that were away learn of it once, in order), the
audit log, and the frames other sockets get."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from rooms import access, changes, moderation, selectors, services, wire
from rooms.errors import Banned, Forbidden, InvalidInput, Locked, MessageNotFound, Muted
from rooms.models import Message, ModerationAction, Room
from tests.conftest import connect, join, nothing_more, receive_type
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def pin(message: Message, by, pinned: bool = True) -> Message:
    """Through the door every client uses: read the message as `by`, then pin."""
    visible = access.message_get_visible(user=by, message_id=message.id)
    return moderation.message_pin(message=visible, by=by, pinned=pinned)


@pytest.fixture
def public(alice, bob):
    room = services.room_create(creator=alice, name="Lobby")
    services.room_join(room=room, user=bob)
    return room


# --- who may -----------------------------------------------------------------------------


def test_owners_and_moderators_pin_in_a_public_room_and_members_get_403(public, alice, bob, carol):
    message, _ = services.message_post(room=public, author=bob, body="read the rules")
    with pytest.raises(Forbidden, match="owner or moderators"):
        pin(message, bob)  # a plain member, even of their own message
    with pytest.raises(Forbidden):
        pin(message, carol)  # a visitor who can read it
    pin(message, alice)
    message.refresh_from_db()
    assert message.pinned_at is not None and message.pinned_by == alice
    moderation.moderator_set(room=public, by=alice, username="bob", moderator=True)
    pin(message, bob, pinned=False)
    message.refresh_from_db()
    assert message.pinned_at is None and message.pinned_by is None


def test_site_staff_pin_in_any_public_room(public, bob):
    staff = UserFactory(username="staffer", is_staff=True)
    message, _ = services.message_post(room=public, author=bob, body="hello")
    pin(message, staff)
    assert Message.objects.get(pk=message.pk).pinned_by == staff


def test_every_member_of_a_conference_or_a_1to1_chat_pins(conference, alice, bob, carol, mallory):
    message, _ = services.message_post(room=conference, author=alice, body="agenda")
    pin(message, carol)
    pin(message, bob, pinned=False)
    direct, _ = services.direct_get_or_create(user=bob, username="carol")
    line, _ = services.message_post(room=direct, author=bob, body="address")
    pin(line, carol)
    assert Message.objects.get(pk=line.pk).pinned_by == carol
    for room_message in (message, line):
        with pytest.raises(MessageNotFound):
            pin(room_message, mallory)  # not theirs to see: 404, as for a missing one
        with pytest.raises(MessageNotFound):
            moderation.message_pin(message=room_message, by=mallory, pinned=True)


def test_a_muted_member_and_a_banned_user_cannot_pin(public, conference, alice, bob, carol):
    message, _ = services.message_post(room=conference, author=alice, body="agenda")
    moderation.member_mute(room=conference, by=alice, username="carol", minutes=10)
    with pytest.raises(Muted):
        pin(message, carol)
    moderation.moderator_set(room=public, by=alice, username="bob", moderator=True)
    lobby, _ = services.message_post(room=public, author=alice, body="welcome")
    moderation.member_ban(room=public, by=alice, username="bob", reason="spam")
    with pytest.raises(Banned):
        pin(lobby, bob)
    assert not Message.objects.filter(pinned_at__isnull=False).exists()


def test_a_locked_room_takes_pins_from_its_moderators_and_an_archived_one_from_nobody(
    conference, alice, bob
):
    message, _ = services.message_post(room=conference, author=bob, body="notes")
    moderation.room_lock(room=conference, by=alice, locked=True)
    with pytest.raises(Locked):
        pin(message, bob)
    pin(message, alice)  # the conference's owner
    moderation.room_archive(room=conference, by=alice)
    with pytest.raises(Forbidden, match="archived"):
        pin(message, alice, pinned=False)


def test_deleted_messages_and_system_lines_are_not_pinned(conference, alice, bob):
    system = services.post_system_message(room=conference, body="bob left")
    with pytest.raises(InvalidInput, match="System"):
        pin(system, alice)
    message, _ = services.message_post(room=conference, author=bob, body="gone soon")
    moderation.message_remove(message=message, by=bob)
    with pytest.raises(InvalidInput, match="deleted"):
        pin(message, alice)
    pin(message, alice, pinned=False)  # unpinning one is harmless: it never is pinned


def test_deleting_a_pinned_message_unpins_it(conference, alice, bob):
    message, _ = services.message_post(room=conference, author=bob, body="pinned, then gone")
    pin(message, alice)
    moderation.message_remove(message=message, by=bob)
    message.refresh_from_db()
    assert message.deleted and message.pinned_at is None and message.pinned_by is None


def test_a_room_holds_a_bounded_number_of_pins(conference, alice, settings):
    settings.CHAT_PINS_PER_ROOM = 2
    messages = [
        services.message_post(room=conference, author=alice, body=f"m{n}")[0] for n in range(3)
    ]
    pin(messages[0], alice)
    pin(messages[1], alice)
    pin(messages[1], alice)  # already pinned: no change, no refusal
    with pytest.raises(InvalidInput, match="already has 2 pinned messages"):
        pin(messages[2], alice)
    pin(messages[0], alice, pinned=False)
    pin(messages[2], alice)
    assert Message.objects.filter(pinned_at__isnull=False).count() == 2


# --- rev, sync and audit -------------------------------------------------------------------


def test_a_pin_takes_the_next_rev_and_a_repeat_takes_none(conference, alice):
    message, _ = services.message_post(room=conference, author=alice, body="hello")
    before = message.rev
    pin(message, alice)
    pinned_rev = Message.objects.get(pk=message.pk).rev
    assert pinned_rev > before
    pin(message, alice)
    assert Message.objects.get(pk=message.pk).rev == pinned_rev
    assert Room.objects.get(pk=conference.pk).last_rev == pinned_rev
    pin(message, alice, pinned=False)
    assert Message.objects.get(pk=message.pk).rev > pinned_rev


def test_changed_after_carries_pins_once_in_order(api_client, conference, alice, bob, carol):
    first, _ = services.message_post(room=conference, author=alice, body="one")
    second, _ = services.message_post(room=conference, author=alice, body="two")
    seen = second.rev
    pin(first, bob)
    pin(second, alice)
    pin(first, alice, pinned=False)
    page = api_client(carol).get(f"/api/rooms/{conference.id}/messages", changed_after=seen)
    changed = page.json()["messages"]
    assert [(m["seq"], m["pinned"], m["pinned_by"]) for m in changed] == [
        (second.seq, True, "alice"),
        (first.seq, False, None),
    ]
    assert changed[0]["pinned_at"] is not None and changed[1]["pinned_at"] is None
    assert changed[0]["rev"] < changed[1]["rev"]


def test_each_pin_and_unpin_is_in_the_audit_log_once(conference, alice, bob):
    message, _ = services.message_post(room=conference, author=bob, body="hello")
    pin(message, alice)
    pin(message, alice)  # no change, no entry
    pin(message, bob, pinned=False)
    entries = list(
        ModerationAction.objects.filter(room=conference)
        .order_by("id")
        .values_list("actor__username", "action", "target_user__username", "message_id")
    )
    assert entries == [
        ("alice", "pin_message", "bob", message.id),
        ("bob", "unpin_message", "bob", message.id),
    ]


def test_a_pin_is_broadcast_only_after_commit(
    conference, alice, django_capture_on_commit_callbacks
):
    message, _ = services.message_post(room=conference, author=alice, body="hello")
    with django_capture_on_commit_callbacks() as callbacks:
        pin(message, alice)
    assert len(callbacks) == 1


# --- the API --------------------------------------------------------------------------------


def test_pin_endpoints_answer_204_and_the_list_is_newest_pin_first(api_client, conference, alice):
    api = api_client(alice)
    first, _ = services.message_post(room=conference, author=alice, body="first\nsecond line")
    second, _ = services.message_post(room=conference, author=alice, body="second")
    assert api.post(f"/api/messages/{first.id}/pin").status_code == 204
    assert api.post(f"/api/messages/{second.id}/pin").status_code == 204
    assert api.post(f"/api/messages/{second.id}/pin").status_code == 204  # again: unchanged
    pins = api.get(f"/api/rooms/{conference.id}/pins").json()["messages"]
    assert [m["seq"] for m in pins] == [second.seq, first.seq]
    assert pins[1]["body"] == "first\nsecond line" and pins[1]["pinned_by"] == "alice"
    assert api.delete(f"/api/messages/{second.id}/pin").status_code == 204
    assert api.delete(f"/api/messages/{second.id}/pin").status_code == 204
    pins = api.get(f"/api/rooms/{conference.id}/pins").json()["messages"]
    assert [m["seq"] for m in pins] == [first.seq]
    history = api.get(f"/api/rooms/{conference.id}/messages").json()["messages"]
    assert [m["pinned"] for m in history if m["kind"] != "system"] == [True, False]


def test_pin_api_refusals(api_client, public, conference, alice, bob, mallory, settings):
    lobby, _ = services.message_post(room=public, author=alice, body="welcome")
    private, _ = services.message_post(room=conference, author=alice, body="secret")
    member = api_client(bob)
    refused = member.post(f"/api/messages/{lobby.id}/pin")
    assert refused.status_code == 403 and "owner or moderators" in refused.json()["detail"]
    assert member.delete(f"/api/messages/{lobby.id}/pin").status_code == 403
    outsider = api_client(mallory)
    for path in (
        f"/api/messages/{private.id}/pin",
        "/api/messages/999999/pin",
    ):
        assert outsider.post(path).status_code == 404
        assert outsider.delete(path).status_code == 404
        assert outsider.post(path).json() == {"detail": "Message not found."}
    assert outsider.get(f"/api/rooms/{conference.id}/pins").status_code == 404
    assert outsider.get("/api/rooms/999999/pins").status_code == 404
    assert outsider.get(f"/api/rooms/{public.id}/pins").json() == {"messages": []}
    assert api_client(alice).post("/api/messages/x/pin").status_code in (400, 404, 422)
    settings.CHAT_PINS_PER_ROOM = 0
    full = api_client(alice).post(f"/api/messages/{private.id}/pin")
    assert full.status_code == 400 and "unpin one first" in full.json()["detail"]


def test_a_banned_user_reads_no_pins(api_client, public, alice, bob):
    moderation.member_ban(room=public, by=alice, username="bob", reason="spam")
    answer = api_client(bob).get(f"/api/rooms/{public.id}/pins")
    assert answer.status_code == 403 and answer.json()["detail"].startswith("You are banned")


def test_the_pins_list_costs_the_same_queries_however_many_pins(
    api_client, conference, alice, bob, django_assert_max_num_queries
):
    for n in range(5):
        message, _ = services.message_post(room=conference, author=bob, body=f"m{n}")
        pin(message, alice if n % 2 else bob)
    api = api_client(alice)
    api.get(f"/api/rooms/{conference.id}/pins")  # warm the token's first use
    with django_assert_max_num_queries(6):
        answer = api.get(f"/api/rooms/{conference.id}/pins")
    assert len(answer.json()["messages"]) == 5


def test_a_history_page_with_pins_costs_one_query(
    conference, alice, bob, carol, django_assert_num_queries
):
    for n, who in enumerate((alice, bob, carol)):
        message, _ = services.message_post(room=conference, author=who, body=f"m{n}")
        pin(message, who)
    with django_assert_num_queries(1):
        rows, _ = selectors.messages_page(room=conference)
        shown = [wire.message_dict(m) for m in rows]
    assert [m["pinned_by"] for m in shown] == ["alice", "bob", "carol"]


def test_the_openapi_schema_lists_the_pin_endpoints(client):
    paths = client.get("/api/openapi.json").json()["paths"]
    assert {"post", "delete"} <= set(paths["/api/messages/{message_id}/pin"])
    assert "get" in paths["/api/rooms/{room_id}/pins"]


def test_the_room_page_offers_pins_to_whom_may_pin(client, public, conference, alice, bob):
    client.force_login(bob)
    assert b'data-can-pin="false"' in client.get(f"/rooms/{public.id}/").content
    page = client.get(f"/rooms/{conference.id}/").content
    assert b'data-can-pin="true"' in page and b'id="pin-list"' in page
    client.force_login(alice)
    assert b'data-can-pin="true"' in client.get(f"/rooms/{public.id}/").content


# --- sockets --------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_another_socket_hears_a_pin_as_message_updated(alice, bob):
    room = await database_sync_to_async(services.room_create)(
        creator=alice, name="Lobby", kind=Room.Kind.PUBLIC
    )
    message, _ = await database_sync_to_async(services.message_post)(
        room=room, author=bob, body="pin me"
    )
    watcher = await connect(bob)
    await join(watcher, room.id)
    await database_sync_to_async(pin)(message, alice)
    updated = await receive_type(watcher, "message_updated")
    assert updated["message"]["seq"] == message.seq
    assert updated["message"]["pinned"] is True and updated["message"]["pinned_by"] == "alice"
    await database_sync_to_async(pin)(message, alice)  # no change: nothing is sent
    assert await nothing_more(watcher)
    await database_sync_to_async(pin)(message, alice, False)
    updated = await receive_type(watcher, "message_updated")
    assert updated["message"]["pinned"] is False and updated["message"]["pinned_at"] is None
    await watcher.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_socket_that_slept_through_a_pin_learns_it_by_changed_after(alice, bob):
    room = await database_sync_to_async(services.room_create)(
        creator=alice, name="Lobby", kind=Room.Kind.PUBLIC
    )
    message, _ = await database_sync_to_async(services.message_post)(
        room=room, author=bob, body="pin me"
    )
    sleeper = await connect(bob)
    last_rev = (await join(sleeper, room.id))["last_rev"]
    await sleeper.disconnect()
    await database_sync_to_async(pin)(message, alice)
    sleeper = await connect(bob)
    rejoined = await join(sleeper, room.id, changed_after=last_rev)
    assert [(m["seq"], m["pinned"]) for m in rejoined["messages"]] == [(message.seq, True)]
    await sleeper.disconnect()


def test_changes_module_refuses_without_a_role(public, bob):
    """The rule lives in rooms.access: the changes service asks it too, whatever door."""
    message, _ = services.message_post(room=public, author=bob, body="mine")
    with pytest.raises(Forbidden):
        changes.message_pin_set(message=message, by=bob, pinned=True)


@pytest.mark.django_db(transaction=True)
async def test_a_pin_frame_pins_by_room_and_seq_and_refusals_are_error_frames(alice, bob):
    room = await database_sync_to_async(services.room_create)(
        creator=alice, name="Lobby", kind=Room.Kind.PUBLIC
    )
    message, _ = await database_sync_to_async(services.message_post)(
        room=room, author=bob, body="pin me"
    )
    owner, member = await connect(alice), await connect(bob)
    await join(owner, room.id)
    await join(member, room.id)
    await member.send_json_to({"type": "pin", "room": room.id, "seq": message.seq})
    refused = await receive_type(member, "error")
    assert refused["code"] == "forbidden"
    await owner.send_json_to({"type": "pin", "room": room.id, "seq": 99})
    assert (await receive_type(owner, "error"))["code"] == "not_found"
    await owner.send_json_to({"type": "pin", "room": room.id, "seq": 1, "pinned": "yes"})
    assert (await receive_type(owner, "error"))["code"] == "invalid"
    await owner.send_json_to({"type": "pin", "room": room.id, "seq": message.seq})
    for socket in (owner, member):
        updated = await receive_type(socket, "message_updated")
        assert updated["message"]["pinned"] is True and updated["message"]["pinned_by"] == "alice"
    await owner.send_json_to({"type": "pin", "room": room.id, "seq": message.seq, "pinned": False})
    updated = await receive_type(member, "message_updated")
    assert updated["message"]["pinned"] is False
    await owner.disconnect()
    await member.disconnect()
