"""The site's channel layer (chatsite/channel_layer.py) is channels-redis's core layer
with a group join in one round trip per Redis server: the same keys and expiry, so a
process on the plain layer hears what is sent to a group a process on this one joined,
and the other way round (a rolling deploy mixes them). On real Redis."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as redis
from channels.layers import InMemoryChannelLayer, get_channel_layer
from channels_redis.core import RedisChannelLayer as PlainLayer

from chatsite import channel_layer


@pytest.fixture
def layers(redis_layer, settings):
    ours = get_channel_layer()
    assert type(ours) is channel_layer.RedisChannelLayer
    plain = PlainLayer(**settings.CHANNEL_LAYERS["default"]["CONFIG"])
    return ours, plain


async def _received(layer, channel):
    async with asyncio.timeout(2):
        return await layer.receive(channel)


@pytest.mark.redis
async def test_a_channel_joined_to_several_groups_hears_each_from_either_layer(layers):
    ours, plain = layers
    channel = await ours.new_channel()
    await channel_layer.group_add_many(ours, ["room.1", "user.7", "token.3"], channel)
    for sender, group in [(plain, "room.1"), (ours, "user.7"), (plain, "token.3")]:
        await sender.group_send(group, {"type": "chat.ping", "group": group})
        assert (await _received(ours, channel))["group"] == group
    other = await plain.new_channel()
    await plain.group_add("room.1", other)  # the plain layer's join, our send
    await ours.group_send("room.1", {"type": "chat.ping"})
    assert (await _received(plain, other))["type"] == "chat.ping"


@pytest.mark.redis
async def test_the_groups_expire_as_channels_redis_sets_them(layers, redis_url):
    ours, plain = layers
    channel = await ours.new_channel()
    await ours.group_add("room.2", channel)
    client = redis.Redis.from_url(redis_url)
    try:
        ttl = await client.ttl(ours._group_key("room.2"))
        assert ours.group_expiry - 5 <= ttl <= ours.group_expiry
        assert await client.zscore(plain._group_key("room.2"), channel) is not None
    finally:
        await client.aclose()


async def test_other_layers_add_one_group_at_a_time():
    """The in-memory layer (and pub/sub) has no group_add_many: the helper loops."""
    memory = InMemoryChannelLayer()
    channel = await memory.new_channel()
    await channel_layer.group_add_many(memory, ["room.1", "room.2"], channel)
    for group in ("room.1", "room.2"):
        await memory.group_send(group, {"type": "chat.ping", "group": group})
        assert (await _received(memory, channel))["group"] == group


@pytest.mark.redis
async def test_groups_on_two_servers_are_each_joined(layers, redis_url):
    """One script per server: groups hashed to either server are all joined, with the
    expiry set (two databases of one Redis stand for two servers)."""
    ours, _ = layers
    base = redis_url.rsplit("/", 1)[0]
    layer = channel_layer.RedisChannelLayer(
        hosts=[f"{base}/13", f"{base}/14"], prefix=ours.prefix, group_expiry=ours.group_expiry
    )
    groups = [f"room.{i}" for i in range(0, 400, 37)]
    assert {layer.consistent_hash(group) for group in groups} == {0, 1}
    channel = await layer.new_channel()
    try:
        await layer.group_add_many(groups, channel)
        for group in groups:
            await layer.group_send(group, {"type": "chat.ping", "group": group})
            assert (await _received(layer, channel))["group"] == group
            server = layer.connection(layer.consistent_hash(group))
            assert await server.ttl(layer._group_key(group)) > layer.group_expiry - 5
    finally:
        await layer.flush()
