"""A socket's sends go through its send queue (rooms.realtime.send_queue).

Each test holds the first post in the database thread (a threading.Event) so the
interleaving is forced, not hoped for: frames sent meanwhile must wait, in order, and
go to the database together; the socket keeps answering other frames; the queue's
bound refuses with `rate_limited`; a closing socket's sends are still stored."""

from __future__ import annotations

import asyncio
import threading

import pytest
from channels.db import database_sync_to_async

from rooms import services
from rooms.models import Message
from rooms.realtime.send_queue import Pending, SendQueue
from tests.conftest import connect, join, receive_type

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def held(monkeypatch):
    """services.messages_post, with the first call held until `release` is set; records
    the number of drafts of each call."""
    release = threading.Event()
    entered = threading.Event()
    sizes: list[int] = []
    original = services.messages_post

    def holding(**kwargs):
        sizes.append(len(kwargs["drafts"]))
        if len(sizes) == 1:
            entered.set()
            assert release.wait(10), "never released"
        return original(**kwargs)

    monkeypatch.setattr(services, "messages_post", holding)
    return release, entered, sizes


async def _wait(event: threading.Event) -> None:
    for _ in range(200):
        if event.is_set():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the post never reached the database")


def _send(n: int, room_id: int) -> dict:
    return {"type": "send", "room": room_id, "body": f"m{n}", "client_id": f"c{n}"}


def _bodies(room) -> list[str]:
    return list(Message.objects.filter(room=room).order_by("seq").values_list("body", flat=True))


async def test_sends_waiting_together_are_stored_together_in_order(held, room, alice):
    release, entered, sizes = held
    communicator = await connect(alice)
    await join(communicator, room.pk)
    await communicator.send_json_to(_send(0, room.pk))
    await _wait(entered)
    for n in range(1, 21):
        await communicator.send_json_to(_send(n, room.pk))
    # The socket reads on while the first post is held: a ping is answered now.
    await communicator.send_json_to({"type": "ping"})
    await receive_type(communicator, "pong")
    release.set()
    got = [(await receive_type(communicator, "message"))["message"] for _ in range(21)]
    assert [m["body"] for m in got] == [f"m{n}" for n in range(21)]
    assert [m["seq"] for m in got] == list(range(1, 22))
    assert sizes == [1, 20]  # the twenty that waited: one batch, one transaction
    assert await database_sync_to_async(_bodies)(room) == [f"m{n}" for n in range(21)]
    await communicator.disconnect()


async def test_a_full_queue_refuses_with_rate_limited_and_stores_the_rest(
    held, room, alice, settings
):
    settings.CHAT_SEND_QUEUE = 3
    release, entered, sizes = held
    communicator = await connect(alice)
    await join(communicator, room.pk)
    await communicator.send_json_to(_send(0, room.pk))
    await _wait(entered)
    for n in range(1, 6):
        await communicator.send_json_to(_send(n, room.pk))
    refused = [await receive_type(communicator, "error") for _ in range(2)]
    assert [(f["code"], f["ref"], f["retry_after"]) for f in refused] == [
        ("rate_limited", "c4", 1),
        ("rate_limited", "c5", 1),
    ]
    release.set()
    got = [(await receive_type(communicator, "message"))["message"]["body"] for _ in range(4)]
    assert got == ["m0", "m1", "m2", "m3"]
    # The client sends a refused one again (same client_id): stored then.
    await communicator.send_json_to(_send(4, room.pk))
    assert (await receive_type(communicator, "message"))["message"]["body"] == "m4"
    assert await database_sync_to_async(_bodies)(room) == ["m0", "m1", "m2", "m3", "m4"]
    await communicator.disconnect()


async def test_a_socket_that_closes_right_after_sending_still_stores_its_sends(held, room, alice):
    release, entered, _ = held
    communicator = await connect(alice)
    await join(communicator, room.pk)
    for n in range(3):
        await communicator.send_json_to(_send(n, room.pk))
    await _wait(entered)
    closing = asyncio.ensure_future(communicator.disconnect())
    await asyncio.sleep(0.1)
    release.set()
    await closing
    for _ in range(100):
        if len(await database_sync_to_async(_bodies)(room)) == 3:
            break
        await asyncio.sleep(0.05)
    assert await database_sync_to_async(_bodies)(room) == ["m0", "m1", "m2"]


async def test_a_join_waits_for_the_sends_before_it(held, room, alice):
    """send to a room not joined, then join it: the acknowledgement (the socket was not
    in the room when it sent) comes before `joined`, as if frames were handled one at
    a time."""
    release, entered, _ = held
    communicator = await connect(alice)
    await communicator.send_json_to(_send(0, room.pk))
    await _wait(entered)
    await communicator.send_json_to({"type": "join", "room": room.pk, "after": 0})
    await asyncio.sleep(0.1)
    release.set()
    ack = await communicator.receive_json_from(timeout=3)
    assert ack["type"] == "message" and ack["message"]["body"] == "m0"
    joined = await receive_type(communicator, "joined")
    assert [m["body"] for m in joined["messages"]] == ["m0"]
    await communicator.disconnect()


async def test_a_command_keeps_its_place_among_posts(room, alice):
    communicator = await connect(alice)
    await join(communicator, room.pk)
    await communicator.send_json_to(_send(0, room.pk))
    await communicator.send_json_to(
        {"type": "send", "room": room.pk, "body": "/me waves", "client_id": "me"}
    )
    await communicator.send_json_to(_send(1, room.pk))
    got = [(await receive_type(communicator, "message"))["message"] for _ in range(3)]
    assert [(m["seq"], m["client_id"]) for m in got] == [(1, "c0"), (2, "me"), (3, "c1")]
    await communicator.disconnect()


async def test_a_send_while_redis_is_out_of_reach_is_answered_unavailable(room, alice, settings):
    """The rate limit lives in Redis: out of reach, the send is refused with
    `unavailable` (retry later), not `internal`, and the socket stays open."""
    communicator = await connect(alice)
    await join(communicator, room.pk)
    working = settings.REDIS_URL
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    await communicator.send_json_to(_send(0, room.pk))
    error = await receive_type(communicator, "error", timeout=15)
    assert (error["code"], error["ref"]) == ("unavailable", "c0")
    assert await database_sync_to_async(_bodies)(room) == []
    settings.REDIS_URL = working
    await communicator.send_json_to(_send(0, room.pk))  # the client's retry
    assert (await receive_type(communicator, "message"))["message"]["body"] == "m0"
    await communicator.disconnect()


async def test_a_socket_gone_lets_its_batch_in_the_database_finish_and_drops_the_rest(settings):
    """The consumer's last step (after its bounded drain) must not cancel a batch whose
    transaction may already be committed: that would store it and never broadcast it."""
    release = asyncio.Event()
    handled: list[list[int]] = []

    async def handle(items):
        handled.append([item.frame["n"] for item in items])
        if len(handled) == 1:
            await release.wait()
        handled[-1].append("done")

    queue = SendQueue(handle)
    queue.put(Pending(1, {"n": 0}, None))
    await asyncio.sleep(0)  # the task has taken it and waits in "the database"
    queue.put(Pending(1, {"n": 1}, None))
    queue.put(Pending(1, {"n": 2}, None))
    queue.drop_waiting()
    release.set()
    await asyncio.wait_for(queue.drained(), 2)
    assert handled == [[0, "done"]]


async def test_batches_broadcast_in_order_and_a_command_waits_for_them():
    order: list[str] = []
    gate = asyncio.Event()

    class Box:  # an Outbox's one method the queue uses
        def __init__(self, name, wait=None):
            self.name, self.wait = name, wait

        async def flush(self):
            if self.wait is not None:
                await self.wait.wait()
            order.append(self.name)

    queue = SendQueue(handle=None)
    queue.broadcast(Box("first", gate))
    queue.broadcast(Box("second"))
    waiting = asyncio.ensure_future(queue.broadcasts_sent())
    await asyncio.sleep(0.05)
    assert order == [] and not waiting.done()  # the second waits for the first
    gate.set()
    await asyncio.wait_for(waiting, 2)
    assert order == ["first", "second"]
