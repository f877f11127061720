"""The long polls of one process share one channel (rooms.realtime.hub): one
subscription per group in the channel layer however many polls wait, each poll woken
with its message once, a group left and joined again without a lost event, and a
revoked credential still ending only its own polls. On the in-memory layer and on
real Redis (the `layer` fixture)."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import ThreadSensitiveContext
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.test import AsyncClient

from accounts import services as account_services
from rooms import services as room_services
from rooms import wire
from rooms.realtime import events, hub
from tests.conftest import token_for

pytestmark = pytest.mark.django_db(transaction=True)


async def long_poll(token: str, room_id: int, *, after: int, wait: float):
    async with ThreadSensitiveContext():  # as Django's ASGI handler serves a request
        return await AsyncClient().get(
            f"/api/rooms/{room_id}/messages",
            {"after": after, "wait": wait},
            headers={"Authorization": f"Bearer {token}"},
        )


async def channels_in(group: str) -> int:
    """How many channels the channel layer itself holds in `group`."""
    layer = get_channel_layer()
    if hasattr(layer, "groups"):  # in-memory
        return len(layer.groups.get(group, {}))
    import redis.asyncio as redis

    client = redis.from_url(settings.REDIS_URL)
    try:
        return await client.zcard(f"{settings.CHAT_REDIS_PREFIX}:group:{group}")
    finally:
        await client.aclose()


async def until(condition, within: float = 5.0) -> None:
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 - polling state another task changes
            await asyncio.sleep(0.01)


post = database_sync_to_async(room_services.message_post)


async def test_twenty_polls_share_one_subscription_and_each_gets_the_message_once(
    layer, room, alice
):
    token = await database_sync_to_async(token_for)(alice)
    group = events.room_group(room.id)
    polls = [asyncio.create_task(long_poll(token, room.id, after=0, wait=10)) for _ in range(20)]
    current = hub.current()
    await until(lambda: sum(waiter.waiting for waiter in current.waiters) == 20)
    assert len(current.listeners[group]) == 20
    assert await channels_in(group) == 1
    assert await channels_in(events.user_group(alice.pk)) == 1
    health = await AsyncClient().get("/healthz")  # per worker: the polls waiting in it
    assert health.json()["long_polls"] == 20

    message, _ = await post(room=room, author=alice, body="to everyone waiting")
    answers = await asyncio.wait_for(asyncio.gather(*polls), 10)
    for answer in answers:
        assert answer.status_code == 200, answer.content
        assert [m["seq"] for m in answer.json()["messages"]] == [message.seq]
    assert group not in current.listeners  # nobody waits; the subscription lingers
    assert await channels_in(group) == 1
    assert (await AsyncClient().get("/healthz")).json()["long_polls"] == 0


async def test_a_group_left_and_joined_again_at_once_still_hears_the_next_message(
    layer, room, alice, monkeypatch
):
    """With no linger the hub leaves the room's group (and retires its channel) as the
    first poll ends; the next poll must not lose its subscription to that leaving."""
    monkeypatch.setattr(hub, "LINGER", 0.0)
    token = await database_sync_to_async(token_for)(alice)
    group = events.room_group(room.id)
    first = await long_poll(token, room.id, after=0, wait=0.2)
    assert first.json()["messages"] == []
    second = asyncio.create_task(long_poll(token, room.id, after=0, wait=10))
    await until(lambda: group in hub.current().listeners)
    message, _ = await post(room=room, author=alice, body="after the leave")
    answer = await asyncio.wait_for(second, 10)
    assert [m["seq"] for m in answer.json()["messages"]] == [message.seq]
    await until(lambda: hub.current().channel is None)  # retired again: nothing left behind
    await asyncio.sleep(0.05)
    assert await channels_in(group) == 0


async def test_a_revoked_token_ends_its_own_polls_and_no_one_elses(layer, room, alice, bob):
    alice_token = await database_sync_to_async(token_for)(alice)
    bob_token = await database_sync_to_async(token_for)(bob)
    alices = asyncio.create_task(long_poll(alice_token, room.id, after=0, wait=10))
    bobs = asyncio.create_task(long_poll(bob_token, room.id, after=0, wait=10))
    current = hub.current()
    await until(lambda: len(current.listeners.get(events.room_group(room.id), ())) == 2)

    token_id = await database_sync_to_async(
        lambda: alice.api_tokens.values_list("id", flat=True).get()
    )()
    await database_sync_to_async(account_services.token_revoke)(user=alice, token_id=token_id)
    revoked = await asyncio.wait_for(alices, 5)
    assert revoked.status_code == 401
    assert not bobs.done()
    message, _ = await post(room=room, author=bob, body="still here")
    answer = await asyncio.wait_for(bobs, 5)
    assert [m["seq"] for m in answer.json()["messages"]] == [message.seq]


@pytest.mark.parametrize("layer", ["redis"], indirect=True)
async def test_a_group_forgotten_by_redis_is_added_again_by_the_next_poll(
    layer, room, alice, monkeypatch
):
    """A Redis server that restarts without the hub's reader noticing (one of several
    servers) forgets the group; the next poll after REFRESH adds it again, for every
    poll of the process."""
    import redis.asyncio as redis

    monkeypatch.setattr(hub, "REFRESH", 0.0)
    token = await database_sync_to_async(token_for)(alice)
    group = events.room_group(room.id)
    first = asyncio.create_task(long_poll(token, room.id, after=0, wait=10))
    current = hub.current()
    await until(lambda: sum(waiter.waiting for waiter in current.waiters) == 1)
    client = redis.from_url(settings.REDIS_URL)
    try:
        await client.delete(f"{settings.CHAT_REDIS_PREFIX}:group:{group}")  # forgotten
    finally:
        await client.aclose()
    assert await channels_in(group) == 0
    second = asyncio.create_task(long_poll(token, room.id, after=0, wait=10))
    await until(lambda: sum(waiter.waiting for waiter in current.waiters) == 2)
    assert await channels_in(group) == 1
    message, _ = await post(room=room, author=alice, body="heard again")
    for answer in await asyncio.wait_for(asyncio.gather(first, second), 5):
        assert [m["seq"] for m in answer.json()["messages"]] == [message.seq]


async def test_a_message_event_without_its_group_still_reaches_the_rooms_polls(layer, room, alice):
    """Workers of the previous release send events without "group" during a rolling
    deploy; a message event names its room, which is enough."""
    token = await database_sync_to_async(token_for)(alice)
    poll = asyncio.create_task(long_poll(token, room.id, after=0, wait=10))
    current = hub.current()
    await until(lambda: sum(waiter.waiting for waiter in current.waiters) == 1)

    def post_unannounced():
        with events.outbox():  # its own broadcast is collected and never sent
            return room_services.message_post(room=room, author=alice, body="stored")[0]

    message = await database_sync_to_async(post_unannounced)()
    frame = wire.frame("message", message=wire.message_dict(message))
    # What a worker of the previous release sends for it (no "group"):
    await get_channel_layer().group_send(
        events.room_group(room.id),
        {"type": "chat.message", "room": room.id, "seq": message.seq, "frame": frame},
    )
    answer = await asyncio.wait_for(poll, 5)
    assert [m["seq"] for m in answer.json()["messages"]] == [message.seq]


async def test_a_malformed_event_does_not_leave_the_polls_deaf(layer, room, alice):
    """Something else on the layer sends the room's group an event the hub cannot route
    (no group, no room): the reader logs it and goes on, so the next message still
    wakes the poll at once, not at its timeout."""
    token = await database_sync_to_async(token_for)(alice)
    poll = asyncio.create_task(long_poll(token, room.id, after=0, wait=10))
    current = hub.current()
    await until(lambda: sum(waiter.waiting for waiter in current.waiters) == 1)
    await get_channel_layer().group_send(events.room_group(room.id), {"type": "chat.message"})
    message, _ = await post(room=room, author=alice, body="still heard")
    answer = await asyncio.wait_for(poll, 3)
    assert [m["seq"] for m in answer.json()["messages"]] == [message.seq]


async def test_idle_groups_are_left_oldest_first_once_past_the_linger(layer, monkeypatch):
    """Groups are left in the order they went idle, each LINGER after; one still within
    it stops the scan (a thousand closing polls must not scan every idle group each)."""
    monkeypatch.setattr(hub, "LINGER", 0.3)
    current = hub.Hub()
    first, second = await current.waiter(), await current.waiter()
    await first.add("room.1")
    await first.add("user.1")
    await second.add("room.2")
    first.close()  # room.1 and user.1 idle from now (in the order of a set)
    assert set(current.idle_since) == {"room.1", "user.1"}
    await asyncio.sleep(0.35)
    second.close()  # room.2 idle from now; the other two are past the linger: left
    assert list(current.idle_since) == ["room.2"]
    assert set(current.subscribed) == {"room.2"}
    await until(lambda: not current.leaving)
    assert await channels_in("room.1") == 0 and await channels_in("room.2") == 1
    current._retire_if_idle()
