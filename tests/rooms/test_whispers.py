"""/whisper (/w, /msg) on the socket: only the two people see it; refusals are notices."""

from __future__ import annotations

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from accounts.models import Block
from rooms import services
from rooms.models import Membership, Message, Room
from tests.conftest import connect, join, nothing_more, receive_type

pytestmark = pytest.mark.django_db(transaction=True)


async def send(socket, room_id, body, client_id="w1"):
    await socket.send_json_to(
        {"type": "send", "room": room_id, "body": body, "client_id": client_id}
    )


async def three_in(room, *users):
    sockets = [await connect(user) for user in users]
    for socket in sockets:
        await join(socket, room.id)
    return sockets


async def close(*sockets):
    for socket in sockets:
        await socket.disconnect()


@pytest.mark.parametrize("verb", ["/whisper", "/w", "/msg"])
async def test_a_whisper_reaches_both_of_them_and_nobody_else(room, alice, bob, carol, verb):
    a, b, c = await three_in(room, alice, bob, carol)
    await send(a, room.id, f"{verb} bob meet me at 5")
    for socket in (a, b):
        frame = await receive_type(socket, "whisper")
        assert frame["room"] == room.id
        assert (frame["from"], frame["to"], frame["text"]) == ("alice", "bob", "meet me at 5")
    assert await nothing_more(c)
    assert await nothing_more(b)
    # Stored in their 1:1 room, not in the room it was whispered in.
    stored = await database_sync_to_async(
        lambda: list(Message.objects.values_list("room__kind", "author__username", "body"))
    )()
    assert stored == [(Room.Kind.DIRECT, "alice", "meet me at 5")]
    assert frame["direct_room"] != room.id and frame["seq"] == 1
    await close(a, b, c)


async def test_a_display_name_unique_in_the_room_names_the_recipient(room, alice, bob, carol):
    a, b, c = await three_in(room, alice, bob, carol)
    await send(a, room.id, "/w Carol psst")  # carol's display name (tests/conftest.py)
    assert (await receive_type(c, "whisper"))["to"] == "carol"
    assert (await receive_type(a, "whisper"))["to"] == "carol"
    assert await nothing_more(b)
    await close(a, b, c)


async def test_only_the_sockets_joined_to_that_room_hear_it(room, alice, bob):
    elsewhere = await database_sync_to_async(services.room_create)(
        creator=bob, name="Elsewhere", kind=Room.Kind.PUBLIC
    )
    a, b = await three_in(room, alice, bob)
    b_elsewhere = await connect(bob)
    await join(b_elsewhere, elsewhere.id)
    await send(a, room.id, "/w bob hi")
    assert (await receive_type(b, "whisper"))["text"] == "hi"
    assert await nothing_more(b_elsewhere)
    await close(a, b, b_elsewhere)


async def refusal(socket, room_id, body) -> str:
    await send(socket, room_id, body)
    return (await receive_type(socket, "notice"))["text"]


async def test_refusals_are_notices_and_store_nothing(room, alice, bob, carol):
    a, b = await three_in(room, alice, bob)
    assert "not in this room" in await refusal(a, room.id, "/w carol hello")  # not online here
    assert "not in this room" in await refusal(a, room.id, "/w nobody hello")
    assert "yourself" in await refusal(a, room.id, "/w alice hello")
    assert "Usage: /whisper" in await refusal(a, room.id, "/w bob")
    await database_sync_to_async(Block.objects.create)(blocker=bob, blocked=alice)
    assert "does not accept" in await refusal(a, room.id, "/w bob hello")
    assert await nothing_more(b)
    assert await database_sync_to_async(Message.objects.count)() == 0
    await close(a, b)


async def test_someone_who_may_not_post_may_not_whisper(room, alice, bob):
    a, b = await three_in(room, alice, bob)  # bob is a plain member

    def set_membership(**fields):
        Membership.objects.filter(room=room, user=bob).update(**fields)

    await database_sync_to_async(set_membership)(muted_until=timezone.now() + timedelta(minutes=5))
    assert "muted" in await refusal(b, room.id, "/w alice hello")
    await database_sync_to_async(set_membership)(muted_until=None)
    await database_sync_to_async(Room.objects.filter(pk=room.pk).update)(is_locked=True)
    assert "locked" in await refusal(b, room.id, "/w alice hello")
    assert await nothing_more(a)
    assert await database_sync_to_async(Message.objects.count)() == 0
    await close(a, b)


async def test_whispers_are_rate_limited_like_posts(room, alice, bob, settings):
    settings.CHAT_SEND_BURST = 1
    settings.CHAT_SEND_WINDOW = 600
    a, b = await three_in(room, alice, bob)
    await send(a, room.id, "/w bob one", client_id="one")
    await receive_type(a, "whisper")
    await receive_type(b, "whisper")
    await send(a, room.id, "/w bob two", client_id="two")
    assert "/whisper:" in (await receive_type(a, "notice"))["text"]
    assert await nothing_more(b)
    await close(a, b)


async def test_a_repeated_client_id_is_answered_to_the_sender_only(room, alice, bob):
    a, b = await three_in(room, alice, bob)
    await send(a, room.id, "/w bob once", client_id="same")
    await receive_type(a, "whisper")
    await receive_type(b, "whisper")
    await send(a, room.id, "/w bob once", client_id="same")
    assert (await receive_type(a, "whisper"))["ref"] == "same"
    assert await nothing_more(b)
    assert await database_sync_to_async(Message.objects.count)() == 1
    await close(a, b)


async def test_help_lists_whisper(room, alice):
    (a,) = await three_in(room, alice)
    assert "/whisper <name> <text>" in await refusal(a, room.id, "/help")
    await close(a)
