"""A burst's last messages reach every socket even when their broadcasts were dropped
(a process's inbox over the channel layer's capacity): the sending process announces the
room's newest message again once the room goes quiet, and a socket behind it reads the
rest from the database. Each message once, in order; a socket that has it sees nothing
more. On the in-memory layer and real Redis."""

from __future__ import annotations

import pytest
from asgiref.sync import ThreadSensitiveContext
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.test import AsyncClient

from rooms.realtime import tails
from tests.conftest import (
    BACKGROUND_FRAMES,
    connect,
    join,
    nothing_more,
    receive_type,
    token_for,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def dropping(layer, monkeypatch):
    """Drop the chat.message broadcasts whose seqs are in `drop`, as a full inbox does."""
    monkeypatch.setattr(tails, "TAIL_DELAYS", (0.3, 0.6))
    channel_layer = get_channel_layer()
    real = channel_layer.group_send
    drop: set[int] = set()
    dropped: list[int] = []

    async def group_send(group, event):
        if event.get("type") == "chat.message" and event["seq"] in drop:
            drop.discard(event["seq"])  # dropped once; the re-announcement goes through
            dropped.append(event["seq"])
            return
        await real(group, event)

    monkeypatch.setattr(channel_layer, "group_send", group_send)
    return drop, dropped


async def _seqs(socket, count):
    seqs = []
    while len(seqs) < count:
        frame = await receive_type(socket, "message", timeout=3)
        seqs.append(frame["message"]["seq"])
    return seqs


async def test_a_dropped_last_message_arrives_once(dropping, room, alice, bob):
    drop, dropped = dropping
    a, b = await connect(alice), await connect(bob)
    await join(a, room.pk)
    await join(b, room.pk)
    drop.update({1})
    await b.send_json_to({"type": "send", "room": room.pk, "body": "last", "client_id": "c1"})
    assert await _seqs(a, 1) == [1]
    assert await _seqs(b, 1) == [1]
    assert dropped == [1]
    assert await _nothing_but_background(a) and await _nothing_but_background(b)
    await a.disconnect()
    await b.disconnect()


async def test_a_burst_whose_end_was_dropped_arrives_in_order(dropping, room, alice, bob):
    drop, dropped = dropping
    a, b = await connect(alice), await connect(bob)
    await join(a, room.pk)
    await join(b, room.pk)
    drop.update({2, 3})
    for n in range(3):
        await b.send_json_to(
            {"type": "send", "room": room.pk, "body": f"m{n}", "client_id": f"c{n}"}
        )
    assert await _seqs(a, 3) == [1, 2, 3]  # 1 live; 3 re-announced, 2 read before it
    assert sorted(dropped) == [2, 3]
    assert await _nothing_but_background(a)
    await a.disconnect()
    await b.disconnect()


async def _nothing_but_background(socket) -> bool:
    """No message frame for a while (the re-announcements came and were dropped by seq)."""
    while not await nothing_more(socket, timeout=1.0):
        frame = await socket.receive_json_from()
        assert frame["type"] in BACKGROUND_FRAMES, frame
    return True


async def test_a_dropped_message_posted_over_http_arrives(dropping, room, alice, bob):
    """A post over the HTTP API is broadcast from the request's thread, on the server's
    event loop: its tail is announced again like a socket's."""
    drop, dropped = dropping
    a = await connect(alice)
    await join(a, room.pk)
    token = await database_sync_to_async(token_for)(bob)
    drop.update({1})
    async with ThreadSensitiveContext():  # as Django's ASGI handler serves a request
        response = await AsyncClient().post(
            f"/api/rooms/{room.pk}/messages",
            {"body": "over http"},
            content_type="application/json",
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 201
    assert dropped == [1]
    assert await _seqs(a, 1) == [1]
    assert await _nothing_but_background(a)
    await a.disconnect()
