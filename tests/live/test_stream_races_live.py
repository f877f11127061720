"""The rejoin race across two real daphne workers on Redis: alice rejoins on worker A
while bob posts on worker B, and each interleaving is forced with checkpoint files
(rooms.realtime.checkpoints, CHAT_CHECKPOINT_DIR). She gets every message once, in
order, without waiting for a later message, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest

from bench.stack import Stack
from tests.live.conftest import WORKERS, database_url_for_workers, log_problems

pytestmark = [pytest.mark.live, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def checkpoint_dir(tmp_path):
    directory = tmp_path / "checkpoints"
    directory.mkdir()
    return directory


@pytest.fixture
def held_stack(transactional_db, redis_url, channel_prefix, tmp_path, checkpoint_dir):
    stack = Stack(
        WORKERS,
        database_url=database_url_for_workers(),
        redis_url=redis_url,
        env={
            "CHANNEL_PREFIX": channel_prefix,
            "CHAT_SEND_BURST": "100000",
            "CHAT_CHECKPOINT_DIR": str(checkpoint_dir),
        },
        log_dir=tmp_path / "logs",
    )
    with stack:
        yield stack


def hold(directory, point: str, event_type: str = "") -> None:
    (directory / f"hold.{point}").write_text(event_type)


async def wait_reached(directory, point: str, within: float = 15) -> None:
    async with asyncio.timeout(within):
        while not (directory / f"reached.{point}").exists():  # noqa: ASYNC110
            await asyncio.sleep(0.02)


def release(directory, point: str) -> None:
    (directory / f"release.{point}").touch()


async def settle_frames(socket, seconds: float = 1.0) -> None:
    await asyncio.sleep(seconds)


@pytest.mark.parametrize("reader_point", ["stream.subscribed", "stream.read"])
async def test_rejoin_on_one_worker_racing_a_post_on_the_other(
    held_stack, make_people, make_room, open_socket, checkpoint_dir, reader_point
):
    alice, bob = await make_people("alice", "bob")
    room = await make_room("alice")
    url_a, url_b = held_stack.ws_urls
    b = await open_socket(url_b, bob)
    await b.join(room)
    for n in range(6):
        await b.send({"type": "send", "room": room, "body": f"m{n}", "client_id": f"m{n}"})
    await b.wait_for(lambda: len(b.seqs(room)) == 6, what="bob's six messages")

    hold(checkpoint_dir, reader_point)
    hold(checkpoint_dir, "events.committed", "chat.message")
    a = await open_socket(url_a, alice)
    await a.send({"type": "join", "room": room, "after": 1})
    await wait_reached(checkpoint_dir, reader_point)
    await b.send({"type": "send", "room": room, "body": "racing", "client_id": "race"})
    await wait_reached(checkpoint_dir, "events.committed")  # committed, broadcast held
    release(checkpoint_dir, reader_point)
    # Every message, the racing one included, while its broadcast is still held.
    await a.wait_for(lambda: a.seqs(room) == [2, 3, 4, 5, 6, 7], what="seqs 2..7")
    release(checkpoint_dir, "events.committed")
    await b.wait_for(lambda: 7 in b.seqs(room), what="bob's echo")
    await settle_frames(a)
    assert a.seqs(room) == [2, 3, 4, 5, 6, 7]  # the late broadcast was dropped
    assert log_problems(held_stack) == []
