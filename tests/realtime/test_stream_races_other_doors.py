"""The same forced interleavings as test_stream_races.py, through the other two doors
of the room stream: the TCP gateway (in process) and the HTTP long poll. A message
committed after the reader's read whose broadcast is held for the whole test still
reaches the reader, once, in order."""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import ThreadSensitiveContext
from channels.db import database_sync_to_async
from django.test import AsyncClient

from rooms.realtime.gateway import Gateway
from tests.conftest import connect, join, receive_type, token_for
from tests.realtime.test_stream_races import EXPECTED, _bob_posts, _setup, a_message

pytestmark = pytest.mark.django_db(transaction=True)


async def _gateway_seqs(reader, until_quiet=0.7) -> list[int]:
    seqs = []
    while True:
        try:
            async with asyncio.timeout(until_quiet):
                line = await reader.readline()
        except TimeoutError:
            return seqs
        frame = json.loads(line)
        if frame["type"] == "joined":
            seqs += [m["seq"] for m in frame["messages"]]
        elif frame["type"] == "message":
            seqs.append(frame["message"]["seq"])


@pytest.mark.parametrize("point", ["stream.subscribed", "stream.read"])
async def test_gateway_rejoin_racing_a_post_gets_each_message_once(
    layer, pauses, room, alice, bob, point
):
    b = await _setup(room, alice, bob)
    token = await database_sync_to_async(token_for)(alice)
    gateway = Gateway()
    _, port = await gateway.start("127.0.0.1", 0)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        held = pauses.hold(point)
        broadcast = pauses.hold("events.committed", when=a_message)
        first = {"token": token, "room": room.id, "json": True, "after": 1}
        writer.write(json.dumps(first).encode())  # no newline: the object's brace ends it
        await held.wait_reached()
        await _bob_posts(b, room, broadcast)
        held.release()
        assert await _gateway_seqs(reader) == EXPECTED  # the broadcast is still held
        broadcast.release()
        assert await _gateway_seqs(reader) == []  # its late copy is dropped
    finally:
        writer.close()
        await gateway.stop()
        await b.disconnect()


async def _long_poll(alice, room, after, wait):
    """As Django's ASGI handler serves it: in a ThreadSensitiveContext of its own."""
    token = await database_sync_to_async(token_for)(alice)
    async with ThreadSensitiveContext():
        return await AsyncClient().get(
            f"/api/rooms/{room.id}/messages",
            {"after": after, "wait": wait},
            headers={"Authorization": f"Bearer {token}"},
        )


async def test_long_poll_sees_a_post_committed_between_subscribe_and_read(
    layer, pauses, room, alice, bob
):
    b = await _setup(room, alice, bob)
    subscribed = pauses.hold("stream.subscribed")
    broadcast = pauses.hold("events.committed", when=a_message)
    poll = asyncio.create_task(_long_poll(alice, room, after=6, wait=10))
    await subscribed.wait_reached()
    await _bob_posts(b, room, broadcast)
    subscribed.release()
    response = await asyncio.wait_for(poll, 5)
    assert [m["seq"] for m in response.json()["messages"]] == [7]
    broadcast.release()
    await b.disconnect()


async def test_long_poll_is_woken_by_a_post_committed_after_its_read(
    layer, pauses, room, alice, bob
):
    b = await _setup(room, alice, bob)
    read = pauses.hold("stream.read")
    poll = asyncio.create_task(_long_poll(alice, room, after=6, wait=10))
    await read.wait_reached()
    await _bob_posts(b, room)
    await receive_type(b, "message")
    read.release()
    response = await asyncio.wait_for(poll, 5)
    assert [m["seq"] for m in response.json()["messages"]] == [7]
    await b.disconnect()


async def test_long_poll_whose_broadcast_never_comes_answers_it_at_the_timeout(
    layer, pauses, room, alice, bob
):
    b = await _setup(room, alice, bob)
    read = pauses.hold("stream.read")
    broadcast = pauses.hold("events.committed", when=a_message)
    poll = asyncio.create_task(_long_poll(alice, room, after=6, wait=1))
    await read.wait_reached()
    await _bob_posts(b, room, broadcast)
    read.release()
    response = await asyncio.wait_for(poll, 5)
    assert [m["seq"] for m in response.json()["messages"]] == [7]
    broadcast.release()
    await b.disconnect()


async def test_a_socket_and_a_long_poll_agree(layer, room, alice, bob):
    """Both doors answer a rejoin after seq 1 with the same messages."""
    b = await _setup(room, alice, bob)
    a = await connect(alice)
    joined = await join(a, room.id, after=1)
    response = await _long_poll(alice, room, after=1, wait=1)
    assert [m["seq"] for m in joined["messages"]] == EXPECTED[:-1]

    def shown(messages):
        return [(m["seq"], m["author"], m["body"]) for m in messages]

    assert shown(response.json()["messages"]) == shown(joined["messages"])
    await a.disconnect()
    await b.disconnect()
