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
