"""A reader that (re)joins while another member posts gets every message exactly once,
in order, without waiting for a later message: each interleaving of the reader's
"subscribe, read" with the writer's "commit, broadcast" is forced on purpose
(rooms.realtime.checkpoints), on the in-memory layer and on real Redis, on whichever
database the suite runs on (SQLite, and PostgreSQL in CI)."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from rooms import services
from tests.conftest import BACKGROUND_FRAMES, connect, join, receive_type

pytestmark = pytest.mark.django_db(transaction=True)

MISSED = 5


def a_message(types):
    """Hold the broadcast of a new message (not a read-position update, say)."""
    return "chat.message" in types


async def _post(room, user, body):
    return await database_sync_to_async(services.message_post)(room=room, author=user, body=body)


async def _setup(room, alice, bob):
    """alice read up to seq 1, then five messages came while she was away; bob is
    connected and joined, ready to post the racing message from his socket."""
    await _post(room, bob, "seen")
    for i in range(MISSED):
        await _post(room, bob, f"missed {i}")
    b = await connect(bob)
    await join(b, room.id)
    return b


async def _bob_posts(b, room, pause=None):
    await b.send_json_to({"type": "send", "room": room.id, "body": "racing", "client_id": "r1"})
    if pause is not None:
        await pause.wait_reached()  # committed, broadcast held


async def _everything(socket, joined) -> list[int]:
    """Seqs alice received: the joined frame's, then message frames until quiet."""
    seqs = [m["seq"] for m in joined["messages"]]
    while not await socket.receive_nothing(timeout=0.5):
        frame = await socket.receive_json_from()
        if frame["type"] == "message":
            seqs.append(frame["message"]["seq"])
        else:
            assert frame["type"] in BACKGROUND_FRAMES, frame
    return seqs


EXPECTED = list(range(2, 2 + MISSED + 1))  # the five missed, then the racing one (seq 7)


async def _rejoin(alice, room):
    a = await connect(alice)
    await a.send_json_to({"type": "join", "room": room.id, "after": 1})
    return a


async def test_commit_before_subscribe_broadcast_after_it(layer, pauses, room, alice, bob):
    b = await _setup(room, alice, bob)
    broadcast = pauses.hold("events.committed", when=a_message)
    await _bob_posts(b, room, broadcast)
    a = await _rejoin(alice, room)
    joined = await receive_type(a, "joined")
    assert [m["seq"] for m in joined["messages"]] == EXPECTED  # the read saw the commit
    broadcast.release()  # the late broadcast is a duplicate, dropped by seq
    assert await _everything(a, joined) == EXPECTED
    await a.disconnect()
    await b.disconnect()


async def test_commit_and_broadcast_between_subscribe_and_read(layer, pauses, room, alice, bob):
    b = await _setup(room, alice, bob)
    subscribed = pauses.hold("stream.subscribed")
    a = await _rejoin(alice, room)
    await subscribed.wait_reached()
    await _bob_posts(b, room)
    await receive_type(b, "message")  # broadcast done: alice's copy is queued
    subscribed.release()
    joined = await receive_type(a, "joined")
    assert await _everything(a, joined) == EXPECTED
    await a.disconnect()
    await b.disconnect()


async def test_commit_between_subscribe_and_read_broadcast_after_joined(
    layer, pauses, room, alice, bob
):
    b = await _setup(room, alice, bob)
    subscribed = pauses.hold("stream.subscribed")
    broadcast = pauses.hold("events.committed", when=a_message)
    a = await _rejoin(alice, room)
    await subscribed.wait_reached()
    await _bob_posts(b, room, broadcast)
    subscribed.release()
    joined = await receive_type(a, "joined")
    broadcast.release()
    assert await _everything(a, joined) == EXPECTED
    await a.disconnect()
    await b.disconnect()


async def test_commit_and_broadcast_after_the_read(layer, pauses, room, alice, bob):
    b = await _setup(room, alice, bob)
    read = pauses.hold("stream.read")
    a = await _rejoin(alice, room)
    await read.wait_reached()
    await _bob_posts(b, room)
    await receive_type(b, "message")
    read.release()
    joined = await receive_type(a, "joined")
    assert [m["seq"] for m in joined["messages"]] == EXPECTED[:-1]
    assert await _everything(a, joined) == EXPECTED
    await a.disconnect()
    await b.disconnect()


async def test_commit_after_the_read_broadcast_never_comes(layer, pauses, room, alice, bob):
    """The racing message arrives although its broadcast is held for the whole test:
    the join settles from the database instead of waiting for a later message."""
    b = await _setup(room, alice, bob)
    read = pauses.hold("stream.read")
    broadcast = pauses.hold("events.committed", when=a_message)
    a = await _rejoin(alice, room)
    await read.wait_reached()
    await _bob_posts(b, room, broadcast)
    read.release()
    joined = await receive_type(a, "joined")
    assert [m["seq"] for m in joined["messages"]] == EXPECTED[:-1]
    assert await _everything(a, joined) == EXPECTED  # before the broadcast is released
    broadcast.release()
    assert await _everything(a, {"messages": []}) == []  # and the late copy is dropped
    await a.disconnect()
    await b.disconnect()


async def test_a_first_join_without_after_races_the_same_way(layer, pauses, room, alice, bob):
    b = await _setup(room, alice, bob)
    read = pauses.hold("stream.read")
    broadcast = pauses.hold("events.committed", when=a_message)
    a = await connect(alice)
    await a.send_json_to({"type": "join", "room": room.id, "after": None})
    await read.wait_reached()
    await _bob_posts(b, room, broadcast)
    read.release()
    joined = await receive_type(a, "joined")
    assert await _everything(a, joined) == [1, *EXPECTED]
    broadcast.release()
    await a.disconnect()
    await b.disconnect()
