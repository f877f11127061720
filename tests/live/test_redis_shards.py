"""Two Redis servers (REDIS_URL="redis://a/0,redis://b/0"): every Redis key the site
writes lands on one of them, the same one from every process, and the site works as
with one server: the channel layer (channels-redis shards it), presence, the posting
limit and the cache (chatsite/redis_shards.py, chatsite/sharded_cache.py).

The servers are the test's own (two redis-servers on free ports), so the keys counted
on each are this test's alone.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis
from django.core.cache import caches

from accounts import ratelimit
from chatsite import redis_shards
from rooms.realtime import presence
from tests.live.conftest import log_problems

pytestmark = [pytest.mark.live, pytest.mark.redis]


def keys_on(server, prefix: str) -> list[str]:
    client = redis.Redis.from_url(server.url, decode_responses=True)
    try:
        return sorted(client.scan_iter(match=f"{prefix}*", count=1000))
    finally:
        client.close()


@pytest.fixture
def sharded(settings, two_redis):
    """This process's settings pointed at both servers, under a prefix of its own."""
    prefix = f"shard{uuid.uuid4().hex[:8]}"
    url = ",".join(server.url for server in two_redis)
    settings.REDIS_URL = url
    settings.CHAT_REDIS_PREFIX = prefix
    settings.CACHES = {
        "default": {
            "BACKEND": "chatsite.sharded_cache.ShardedRedisCache",
            "LOCATION": url,
            "KEY_PREFIX": prefix,
        }
    }
    ratelimit.reset_local_buckets()
    yield two_redis, prefix
    caches["default"].close()


def test_a_key_has_one_server_and_every_process_agrees():
    urls = redis_shards.split(" redis://a:1/0 , redis://b:2/0,")
    assert urls == ("redis://a:1/0", "redis://b:2/0")
    assert redis_shards.split("") == ()
    # crc32, not Python's per-process salted hash(): the same in every worker.
    assert [redis_shards.index_for(f"room:{n}", 2) for n in range(6)] == [
        __import__("zlib").crc32(f"room:{n}".encode()) % 2 for n in range(6)
    ]
    assert {redis_shards.index_for(f"room:{n}", 2) for n in range(20)} == {0, 1}
    assert redis_shards.index_for("anything", 1) == 0


async def test_presence_is_spread_over_both_servers_and_reads_back_whole(sharded):
    servers, prefix = sharded
    store = presence.store()
    rooms = range(1, 21)
    for room in rooms:
        await store.add(room, 7, "alice", f"chan-{room}")
        await store.add(room, 8, "bob", f"chan-b-{room}")
    assert all([await store.online(room) == ["alice", "bob"] for room in rooms])

    on_each = [keys_on(server, f"{prefix}:presence:room:") for server in servers]
    assert on_each[0] and on_each[1], on_each
    assert not set(on_each[0]) & set(on_each[1])  # each room's set on one server only
    for room in rooms:
        key = f"{prefix}:presence:room:{room}"
        assert key in on_each[redis_shards.index_for(key, 2)]

    await store.remove(3, 7, "alice", "chan-3")
    assert await store.online(3) == ["bob"]
    # The per-user socket cap is one script on one key: still atomic on its server.
    assert await store.claim(7, "s1", 2) and await store.claim(7, "s2", 2)
    assert not await store.claim(7, "s3", 2)


def test_posting_limits_and_cache_entries_are_spread_and_still_count(sharded):
    servers, prefix = sharded
    for user in range(20):
        for _ in range(3):
            ratelimit.take(f"send:{user}", burst=3, per_seconds=60)
        with pytest.raises(ratelimit.RateLimited):
            ratelimit.take(f"send:{user}", burst=3, per_seconds=60)
    buckets = [keys_on(server, f"{prefix}:bucket:") for server in servers]
    assert len(buckets[0]) + len(buckets[1]) == 20 and buckets[0] and buckets[1]

    cache = caches["default"]
    cache.set_many({f"k{n}": n for n in range(20)}, 60)
    assert cache.get_many([f"k{n}" for n in range(20)] + ["missing"]) == {
        f"k{n}": n for n in range(20)
    }
    entries = [keys_on(server, f"{prefix}:1:k") for server in servers]
    assert entries[0] and entries[1] and len(entries[0]) + len(entries[1]) == 20
    for _ in range(5):  # fixed windows (log-in failures) count on the key's server
        ratelimit.hit("login:x", limit=5, window=60)
    with pytest.raises(ratelimit.RateLimited):
        ratelimit.hit("login:x", limit=5, window=60)
    assert cache.incr("k3", 10) == 13
    cache.delete_many([f"k{n}" for n in range(20)])
    assert cache.get_many([f"k{n}" for n in range(20)]) == {}


@pytest.mark.django_db(transaction=True)
async def test_four_workers_on_two_redis_servers_deliver_share_presence_and_limits(
    two_redis, channel_prefix, make_people, make_room, open_socket, tmp_path
):
    """The production topology on loopback: four daphne workers, two Redis servers,
    one database. Messages cross workers once and in order, presence is one list, and
    a user's posting limit is one bucket whichever worker their sockets are on."""
    from bench.stack import Stack
    from tests.live.conftest import database_url_for_workers

    people = await make_people("alice", "bob", "carol", "dave")
    rooms = [await make_room("alice", name=f"Shard {n}") for n in range(4)]
    stack = Stack(
        4,
        database_url=database_url_for_workers(),
        redis_url=",".join(server.url for server in two_redis),
        env={"CHANNEL_PREFIX": channel_prefix, "CHAT_SEND_BURST": "12", "CHAT_SEND_WINDOW": "3600"},
        log_dir=tmp_path / "logs",
        start_timeout=60,
    )
    with stack:
        urls = stack.ws_urls
        sockets = [await open_socket(urls[n], person) for n, person in enumerate(people)]
        for socket in sockets:
            for room in rooms:
                await socket.join(room)

        # Everyone is online in every room, whichever worker and server holds what.
        for socket in sockets:
            for room in rooms:
                await socket.wait_for(
                    lambda s=socket, r=room: any(
                        f["type"] == "presence"
                        and f["room"] == r
                        and sorted(f["online"]) == ["alice", "bob", "carol", "dave"]
                        for f in s.frames
                    ),
                    what=f"everyone online in room {room}",
                )

        # Three messages per room from each of two senders on different workers.
        for n in range(3):
            for room in rooms:
                for socket in sockets[:2]:
                    await socket.send(
                        {
                            "type": "send",
                            "room": room,
                            "body": f"m{n}",
                            "client_id": f"{socket.label}-{room}-{n}",
                        }
                    )
        for socket in sockets:
            for room in rooms:
                await socket.wait_for(
                    lambda s=socket, r=room: (
                        len([m for m in s.messages(r) if m.get("body", "").startswith("m")]) >= 6
                    ),
                    what=f"six messages in room {room}",
                )
        for room in rooms:
            orders = []
            for socket in sockets:
                seqs = socket.seqs(room)
                assert seqs == list(range(1, len(seqs) + 1)), (socket.label, seqs)
                orders.append([m["client_id"] for m in socket.messages(room)])
            assert all(order == orders[0] for order in orders), orders

        # alice has used 12 of her 12 tokens; a second socket of hers on another
        # worker meets the same bucket (it lives on one Redis server for everyone).
        alice_again = await open_socket(urls[3], people[0])
        await alice_again.join(rooms[0])
        await alice_again.send(
            {"type": "send", "room": rooms[0], "body": "one more", "client_id": "alice-extra"}
        )
        refusal = await alice_again.wait_for(
            lambda: next((f for f in alice_again.frames if f["type"] == "error"), None),
            what="the posting limit's answer",
        )
        assert refusal["code"] == "rate_limited", refusal

        # Both servers carry a share of the site's keys.
        for server in two_redis:
            assert keys_on(server, channel_prefix), f"nothing on {server.url}"
        await asyncio.gather(*(socket.close() for socket in [*sockets, alice_again]))
        assert not log_problems(stack)
