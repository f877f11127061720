"""The gateway's ordering rule, in process on the in-memory layer: each message once, in
seq order, even when the channel layer loses, repeats or reorders events."""

from __future__ import annotations

import asyncio
import json
from unittest import mock

import pytest
from asgiref.sync import sync_to_async

from rooms import services
from rooms.realtime.gateway import Gateway
from tests.conftest import token_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def alice_token(alice):
    return token_for(alice)


async def read_frames(reader: asyncio.StreamReader, count: int) -> list[dict]:
    frames = []
    async with asyncio.timeout(10):
        while len(frames) < count:
            frame = json.loads(await reader.readline())
            if frame["type"] != "presence":
                frames.append(frame)
    return frames


async def test_lost_repeated_and_stale_events_still_give_each_message_once_in_order(
    alice, room, alice_token
):
    gateway = Gateway()
    _, port = await gateway.start("127.0.0.1", 0)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(json.dumps({"token": alice_token, "room": room.id, "json": True}).encode())
        writer.write(b"\n")
        (joined,) = await read_frames(reader, 1)
        assert joined["type"] == "joined" and joined["messages"] == []

        held = []  # stored and committed, but the broadcasts are held back
        with mock.patch("rooms.realtime.events._send_now", lambda group, event: held.append(event)):
            for n in (1, 2, 3):
                await sync_to_async(services.message_post)(room=room, author=alice, body=f"m{n}")
        assert [event["seq"] for event in held] == [1, 2, 3]
        # Only seq 3 arrives, then again, then the stale seq 1: 1 and 2 come from the database.
        for event in (held[2], held[2], held[0]):
            await gateway.layer.group_send(f"room.{room.id}", event)
        await sync_to_async(services.message_post)(room=room, author=alice, body="m4")

        frames = await read_frames(reader, 4)
        assert [(f["type"], f["message"]["seq"]) for f in frames] == [
            ("message", 1),
            ("message", 2),
            ("message", 3),
            ("message", 4),
        ]
        assert [f["message"]["body"] for f in frames] == ["m1", "m2", "m3", "m4"]

        await gateway.stop()  # a goodbye line, then the connection closes
        (goodbye,) = await read_frames(reader, 1)
        assert goodbye == {
            "type": "error",
            "code": "shutting_down",
            "detail": "The server is shutting down.",
        }
        async with asyncio.timeout(5):
            assert await reader.read() == b""
    finally:
        writer.close()
        await gateway.stop()
