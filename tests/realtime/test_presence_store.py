"""A join or leave of a room's presence is one store call (one Redis script): it says
whether the user came online or went offline there, which is what decides whether the
room hears about it. The same answers in memory and on real Redis."""

from __future__ import annotations

import pytest

from rooms.realtime import presence


@pytest.fixture
def store(layer):
    presence._stores.clear()  # the store for this test's REDIS_URL (or memory)
    chosen = presence.store()
    assert (
        type(chosen) is {"memory": presence.MemoryPresence, "redis": presence.RedisPresence}[layer]
    )
    yield chosen
    presence._stores.clear()


async def test_the_first_tab_comes_online_and_the_second_is_no_news(store):
    assert await store.enter(5, 1, "alice", "tab-1") == (["alice"], True)
    assert await store.enter(5, 2, "bob", "tab-b") == (["alice", "bob"], True)
    assert await store.enter(5, 1, "alice", "tab-2") == (["alice", "bob"], False)
    assert await store.enter(5, 1, "alice", "tab-2") == (["alice", "bob"], False)  # again
    assert await store.enter(6, 1, "alice", "tab-1") == (["alice"], True)  # another room


async def test_only_the_last_tab_leaving_takes_the_user_offline(store):
    await store.enter(5, 1, "alice", "tab-1")
    await store.enter(5, 1, "alice", "tab-2")
    await store.enter(5, 2, "bob", "tab-b")
    assert await store.leave(5, 1, "alice", "tab-1") is False
    assert await store.online(5) == ["alice", "bob"]
    assert await store.leave(5, 1, "alice", "tab-2") is True
    assert await store.online(5) == ["bob"]
    assert await store.leave(5, 1, "alice", "tab-2") is False  # already gone
    assert await store.leave(7, 3, "carol", "never") is False  # never there


async def test_a_user_id_that_prefixes_another_is_not_confused_with_it(store):
    await store.enter(5, 12, "al", "tab")
    assert await store.enter(5, 1, "al", "tab") == (["al"], True)  # user 1, not user 12
    assert await store.leave(5, 1, "al", "tab") is True


async def test_expired_entries_count_as_gone(store, settings):
    settings.CHAT_PRESENCE_TTL = -1  # every entry written now is already expired
    await store.enter(5, 1, "alice", "tab-1")
    settings.CHAT_PRESENCE_TTL = 90
    assert await store.enter(5, 1, "alice", "tab-2") == (["alice"], True)
    settings.CHAT_PRESENCE_TTL = -1
    await store.enter(5, 2, "bob", "tab-b")  # bob's entry is dead on arrival
    settings.CHAT_PRESENCE_TTL = 90
    assert await store.leave(5, 2, "bob", "tab-b") is False  # he was not online


async def test_a_connect_claims_a_slot_and_registers_on_the_site_in_one_step(store):
    for tab in ("tab-1", "tab-2"):
        assert await store.claim_and_add(presence.SITE, 1, "alice", tab, 2) is True
    assert await store.claim_and_add(presence.SITE, 1, "alice", "tab-3", 2) is False  # cap
    assert await store.sockets_of(presence.SITE, 1) == 2  # the refused tab is not listed
    assert await store.claim_and_add(presence.SITE, 1, "alice", "tab-2", 2) is True  # again
    await store.release(1, "tab-1")
    assert await store.claim_and_add(presence.SITE, 1, "alice", "tab-3", 2) is True
    assert await store.online(presence.SITE) == ["alice"]


@pytest.mark.redis
async def test_a_connect_on_two_servers_claims_and_registers_wherever_the_keys_are(
    settings, redis_url
):
    """Two Redis servers (two databases here): the slots and the site's set may be on
    different ones; a connect is then two steps, with the same answers."""
    import uuid

    from chatsite import redis_shards

    settings.CHAT_REDIS_PREFIX = f"chattest{uuid.uuid4().hex[:10]}"
    settings.REDIS_URL = f"{redis_url},{redis_url.rsplit('/', 1)[0]}/14"
    presence._stores.clear()
    try:
        store = presence.store()
        site = redis_shards.index_for(store._key(presence.SITE), 2)
        apart = next(
            u for u in range(1, 50) if redis_shards.index_for(store._slots_key(u), 2) != site
        )
        together = next(
            u for u in range(1, 50) if redis_shards.index_for(store._slots_key(u), 2) == site
        )
        for user_id in (apart, together):
            name = f"user{user_id}"
            assert await store.claim_and_add(presence.SITE, user_id, name, "tab-1", 1) is True
            assert await store.claim_and_add(presence.SITE, user_id, name, "tab-2", 1) is False
            assert await store.sockets_of(presence.SITE, user_id) == 1
        assert await store.online(presence.SITE) == sorted([f"user{apart}", f"user{together}"])
    finally:
        presence._stores.clear()


async def test_a_guest_name_holding_a_bar_is_listed_whole(store):
    """Guest names may hold "|", the entries' separator (rooms/guests.py)."""
    assert await store.enter(5, 9, "~a|b", "tab-1") == (["~a|b"], True)
    assert await store.enter(5, 1, "alice", "tab-2") == (["alice", "~a|b"], True)
    assert await store.enter(5, 9, "~a|b", "tab-3") == (["alice", "~a|b"], False)
    assert await store.online(5) == ["alice", "~a|b"]
    assert await store.leave(5, 9, "~a|b", "tab-1") is False
    assert await store.leave(5, 9, "~a|b", "tab-3") is True
    assert await store.online(5) == ["alice"]
