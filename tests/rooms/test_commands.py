"""Slash commands and typing on the socket."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from rooms import services
from rooms.models import Message, Room
from rooms.realtime import commands
from tests.conftest import connect, join, receive_type

pytestmark = pytest.mark.django_db(transaction=True)


async def send(socket, room_id, body, client_id="c"):
    await socket.send_json_to(
        {"type": "send", "room": room_id, "body": body, "client_id": client_id}
    )


async def test_help_lists_every_command_to_the_asker_only(room, alice, bob):
    a, b = await connect(alice), await connect(bob)
    await join(a, room.id)
    await join(b, room.id)
    await send(a, room.id, "/help")
    notice = await receive_type(a, "notice")
    for name in commands.REGISTRY:
        assert f"/{name}" in notice["text"]
    assert notice["room"] == room.id and notice["ref"] == "c"
    while not await b.receive_nothing(timeout=0.3):
        assert (await b.receive_json_from())["type"] in ("presence", "read")
    assert await database_sync_to_async(Message.objects.count)() == 0
    await a.disconnect()
    await b.disconnect()


async def test_who_lists_online_users(room, alice, bob):
    a, b = await connect(alice), await connect(bob)
    await join(a, room.id)
    await join(b, room.id)
    await send(a, room.id, "/who")
    assert (await receive_type(a, "notice"))["text"] == "Online: alice, bob"
    await a.disconnect()
    await b.disconnect()


async def test_me_posts_an_action_line_everyone_sees(room, alice, bob):
    a, b = await connect(alice), await connect(bob)
    await join(a, room.id)
    await join(b, room.id)
    await send(a, room.id, "/me waves")
    for socket in (a, b):
        message = (await receive_type(socket, "message"))["message"]
        assert (message["kind"], message["body"], message["author"]) == ("action", "waves", "alice")
    await a.disconnect()
    await b.disconnect()


async def test_double_slash_sends_the_text_literally(room, alice):
    a = await connect(alice)
    await join(a, room.id)
    await send(a, room.id, "//shrug")
    message = (await receive_type(a, "message"))["message"]
    assert (message["kind"], message["body"]) == ("text", "/shrug")
    await a.disconnect()


@pytest.mark.parametrize(
    "body, expected",
    [("/dance", "Unknown command /dance"), ("/me", "Usage: /me"), ("/invite", "Usage: /invite")],
)
async def test_unknown_commands_and_wrong_arguments_get_a_helpful_notice(
    room, alice, body, expected
):
    a = await connect(alice)
    await join(a, room.id)
    await send(a, room.id, body)
    assert expected in (await receive_type(a, "notice"))["text"]
    assert await database_sync_to_async(Message.objects.count)() == 0
    await a.disconnect()


async def test_topic_needs_a_moderator_in_public_rooms(room, alice, bob):
    b = await connect(bob)
    await join(b, room.id)
    await send(b, room.id, "/topic mine now")
    assert "owner or moderators" in (await receive_type(b, "notice"))["text"]
    a = await connect(alice)
    await join(a, room.id)
    await send(a, room.id, "/topic Welcome all")
    system = (await receive_type(a, "message"))["message"]
    assert system["kind"] == "system" and system["body"] == 'alice set the topic to "Welcome all"'
    assert (await receive_type(a, "room_updated"))["room"]["topic"] == "Welcome all"
    room_now = await database_sync_to_async(Room.objects.get)(pk=room.pk)
    assert room_now.topic == "Welcome all"
    await a.disconnect()
    await b.disconnect()


async def test_invite_and_leave_in_a_conference(alice, bob, carol, mallory):
    conference = await database_sync_to_async(services.room_create)(
        creator=alice, name="Plans", kind="conference", members=["bob", "carol"]
    )
    a = await connect(alice)
    await join(a, conference.id)
    await send(a, conference.id, "/invite mallory")
    assert (await receive_type(a, "message"))["message"]["body"] == "alice invited mallory"
    await send(a, conference.id, "/leave", client_id="l")
    assert await receive_type(a, "removed") == {
        "type": "removed",
        "room": conference.id,
        "detail": "You are no longer a member of this room.",
    }
    await a.disconnect()


async def test_nick_changes_the_display_name(room, alice):
    a = await connect(alice)
    await join(a, room.id)
    await send(a, room.id, "/nick Queen Alice")
    assert "Queen Alice" in (await receive_type(a, "notice"))["text"]
    await a.send_json_to({"type": "send", "room": room.id, "body": "hi", "client_id": "h"})
    assert (await receive_type(a, "message"))["message"]["author_name"] == "Queen Alice"
    await a.disconnect()


async def test_typing_reaches_others_and_is_throttled(room, alice, bob):
    a, b = await connect(alice), await connect(bob)
    await join(a, room.id)
    await join(b, room.id)
    for _ in range(5):
        await a.send_json_to({"type": "typing", "room": room.id})
    typing = await receive_type(b, "typing")
    assert typing == {"type": "typing", "room": room.id, "user": "alice"}
    while not await b.receive_nothing(timeout=0.3):
        assert (await b.receive_json_from())["type"] != "typing"  # one event, not five
    assert await database_sync_to_async(Message.objects.count)() == 0
    await a.disconnect()
    await b.disconnect()


async def test_typing_in_a_room_not_joined_is_an_error(room, alice):
    a = await connect(alice)
    await a.send_json_to({"type": "typing", "room": room.id})
    assert (await a.receive_json_from())["code"] == "invalid"
    await a.disconnect()
