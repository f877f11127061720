"""Two real daphne workers sharing one Redis channel layer and one database.

What in-process consumer tests cannot show: events crossing processes, connection
pools and read timeouts of the real Redis client, a worker dying mid-conversation.
"""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from tests.live.conftest import log_problems

pytestmark = [pytest.mark.live, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

WORKER_A, WORKER_B = 0, 1


def client_ids(socket, room: int) -> list[str | None]:
    return [message["client_id"] for message in socket.messages(room)]


def assert_whole_history_once_in_order(socket, room: int) -> None:
    """The socket was given seqs 1..N with nothing missing, repeated or out of order
    (join notices and other system messages included)."""
    seqs = socket.seqs(room)
    assert seqs == list(range(1, len(seqs) + 1)), f"{socket.label}: {seqs}"


async def send_messages(socket, room: int, prefix: str, count: int, pause: float = 0.0):
    """Send `count` messages without waiting for their echoes; returns their client ids."""
    client_ids = [f"{prefix}-{n}" for n in range(count)]
    for client_id in client_ids:
        await socket.send({"type": "send", "room": room, "body": client_id, "client_id": client_id})
        await asyncio.sleep(pause * random.random())
    return client_ids


async def test_clients_on_two_workers_see_every_message_once_in_the_same_order(
    live_stack, make_people, make_room, open_socket
):
    alice, bob, carol, dave = await make_people("alice", "bob", "carol", "dave")
    room = await make_room("alice")
    url_a, url_b = live_stack.ws_urls
    sockets = [
        await open_socket(url_a, alice),
        await open_socket(url_b, bob),
        await open_socket(url_a, carol),
        await open_socket(url_b, dave),
    ]
    for socket in sockets:
        await socket.join(room)
    sender_a, sender_b = sockets[0], sockets[1]

    # Both senders at once, on different workers: the two processes race for the seqs.
    sent_a, sent_b = await asyncio.gather(
        send_messages(sender_a, room, "a", 25, pause=0.01),
        send_messages(sender_b, room, "b", 25, pause=0.01),
    )

    everything = set(sent_a + sent_b)
    for socket in sockets:
        await socket.wait_for(
            lambda s=socket: everything <= set(client_ids(s, room)), what="all 50 messages"
        )
    await asyncio.sleep(0.5)  # anything late (a duplicate) arrives by now
    for socket in sockets:
        assert_whole_history_once_in_order(socket, room)
    histories = [
        [(m["seq"], m["author"], m["client_id"]) for m in socket.messages(room)]
        for socket in sockets
    ]
    assert all(history == histories[0] for history in histories), "sockets disagree"
    order = client_ids(sockets[0], room)
    # Each sender's own messages keep the order it sent them in.
    assert [c for c in order if c and c.startswith("a-")] == sent_a
    assert [c for c in order if c and c.startswith("b-")] == sent_b
    assert log_problems(live_stack) == []


async def test_a_burst_of_200_connects_across_two_workers_all_join(
    live_stack, make_people, make_room, open_socket
):
    people = await make_people(*(f"user{n:02d}" for n in range(20)))
    room = await make_room("user00")
    urls = live_stack.ws_urls

    async def connect_and_join(n: int):
        # Ten sockets per user, five on each worker: most joins change nobody's presence.
        url = urls[(n // len(people)) % 2]
        socket = await open_socket(url, people[n % len(people)], open_timeout=30)
        joined = await socket.join(room, within=30)
        return socket, joined

    started = time.monotonic()
    results = await asyncio.gather(
        *(connect_and_join(n) for n in range(200)), return_exceptions=True
    )
    elapsed = time.monotonic() - started
    failures = [result for result in results if isinstance(result, BaseException)]
    assert failures == [], f"{len(failures)} of 200 failed, e.g. {failures[0]!r}"

    # All 200 are subscribed on both processes: one message reaches every one of them.
    sockets = [socket for socket, _ in results]
    sent_at = time.monotonic()
    await sockets[0].send({"type": "send", "room": room, "body": "hello all", "client_id": "x"})
    for socket in sockets:
        await socket.wait_for(
            lambda s=socket: "x" in client_ids(s, room), what="the broadcast", within=30
        )
    print(
        f"200 connects + joins across 2 workers in {elapsed:.2f}s; "
        f"one message to all 200 in {time.monotonic() - sent_at:.2f}s"
    )
    await asyncio.sleep(0.5)
    # 200 sockets joining while 19 "joined" notices were posted: each got them all once.
    histories = {tuple(socket.seqs(room)) for socket in sockets}
    assert len(histories) == 1, f"{len(histories)} different histories"
    for socket in sockets:
        assert_whole_history_once_in_order(socket, room)
    assert log_problems(live_stack) == []


async def test_an_idle_socket_stays_open_and_still_receives(
    live_stack, make_people, make_room, open_socket
):
    alice, bob = await make_people("alice", "bob")
    room = await make_room("alice")
    url_a, url_b = live_stack.ws_urls
    on_a = await open_socket(url_a, alice)
    on_b = await open_socket(url_b, bob)
    await on_a.join(room)
    await on_b.join(room)

    # Longer than redis-py's 5 s socket timeout and the layer's 5 s blocking read (a
    # misconfigured pool closes the socket with 1011 here) and than daphne's 20 s ping.
    await asyncio.sleep(31)

    assert not on_a.closed.is_set() and not on_b.closed.is_set()
    await on_b.send({"type": "send", "room": room, "body": "still there?", "client_id": "b1"})
    await on_a.wait_for(lambda: "b1" in client_ids(on_a, room), what="the message from B")
    await on_a.send({"type": "send", "room": room, "body": "yes", "client_id": "a1"})
    await on_b.wait_for(lambda: "a1" in client_ids(on_b, room), what="the reply from A")
    assert_whole_history_once_in_order(on_a, room)
    assert_whole_history_once_in_order(on_b, room)
    assert log_problems(live_stack) == []


async def test_a_client_of_a_killed_worker_rejoins_elsewhere_and_misses_nothing(
    live_stack, make_people, make_room, open_socket
):
    alice, bob, carol = await make_people("alice", "bob", "carol")
    room = await make_room("bob")
    url_a, url_b = live_stack.ws_urls
    first = await open_socket(url_a, alice)
    sender = await open_socket(url_b, bob)
    await first.join(room)
    await sender.join(room)
    before = await send_messages(sender, room, "before", 10)
    await first.wait_for(lambda: before[-1] in client_ids(first, room), what="the first 10")

    # Bob keeps talking on B while A dies and Alice finds her way to B.
    talking = asyncio.create_task(send_messages(sender, room, "during", 30, pause=0.05))
    await sender.wait_for(lambda: "during-4" in client_ids(sender, room), what="bob's echoes")
    live_stack.kill_worker(WORKER_A)
    async with asyncio.timeout(5):
        await first.closed.wait()
    last_seen = first.seqs(room)[-1]

    # What a client does: the next server that accepts, then rejoin from the last seq.
    second = await open_socket(url_b, alice)
    await second.join(room, after=last_seen)
    await talking
    await send_messages(sender, room, "after", 5)

    await sender.wait_for(lambda: "after-4" in client_ids(sender, room), what="the last echo")
    last = sender.seqs(room)[-1]
    await second.wait_for(lambda: second.seqs(room)[-1:] == [last], what=f"seq {last}")
    await asyncio.sleep(0.5)
    # Across her two sockets Alice got the whole history, each message once.
    assert first.seqs(room) + second.seqs(room) == list(range(1, last + 1))
    assert second.seqs(room)[0] == last_seen + 1

    # The restarted worker serves the whole history and hears B's messages again.
    await asyncio.to_thread(live_stack.restart_worker, WORKER_A)
    third = await open_socket(url_a, carol)
    joined = await third.join(room, after=0)
    assert [m["seq"] for m in joined["messages"]][:last] == list(range(1, last + 1))
    await sender.send({"type": "send", "room": room, "body": "welcome back", "client_id": "w"})
    await third.wait_for(lambda: "w" in client_ids(third, room), what="B's message on A")
    assert_whole_history_once_in_order(third, room)
    assert log_problems(live_stack) == []


async def test_presence_is_shared_across_workers(live_stack, make_people, make_room, open_socket):
    alice, bob, carol = await make_people("alice", "bob", "carol")
    room = await make_room("alice")
    url_a, url_b = live_stack.ws_urls
    alice_on_a = await open_socket(url_a, alice)
    carol_on_a = await open_socket(url_a, carol)
    bob_on_b = await open_socket(url_b, bob)
    await alice_on_a.join(room)
    await carol_on_a.join(room)

    joined = await bob_on_b.join(room)
    assert joined["online"] == ["alice", "bob", "carol"]

    def latest_online(socket):
        updates = [f["online"] for f in socket.frames if f["type"] == "presence"]
        return updates[-1] if updates else None

    # B's join reaches A's sockets; A's leave and disconnect reach B's socket.
    await alice_on_a.wait_for(
        lambda: latest_online(alice_on_a) == ["alice", "bob", "carol"], what="bob online"
    )
    await alice_on_a.send({"type": "leave", "room": room})
    await bob_on_b.wait_for(lambda: latest_online(bob_on_b) == ["bob", "carol"], what="alice gone")
    await carol_on_a.close()
    await bob_on_b.wait_for(lambda: latest_online(bob_on_b) == ["bob"], what="carol gone")
    assert log_problems(live_stack) == []
