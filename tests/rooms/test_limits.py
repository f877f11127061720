"""Limits against abuse: the posting token bucket under a flood, and the per-user
limits on sockets, rooms and invitations."""

from __future__ import annotations

import threading
import time

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from accounts import ratelimit
from chatsite.asgi import application
from rooms import services
from rooms.errors import RateLimitedError
from rooms.models import Message
from tests.conftest import connect, join, receive_type, token_for


@pytest.mark.django_db(transaction=True)
async def test_a_flood_of_1000_messages_stores_the_allowed_number_and_refuses_the_rest(
    room, alice, bob, settings
):
    settings.CHAT_SEND_BURST = 20
    settings.CHAT_SEND_WINDOW = 10  # then 2 a second
    flooder = await connect(alice)
    await join(flooder, room.id)
    started = time.monotonic()
    for i in range(1000):
        await flooder.send_json_to(
            {"type": "send", "room": room.id, "body": f"flood {i}", "client_id": f"f{i}"}
        )
    delivered, refused = 0, 0
    while delivered + refused < 1000:
        frame = await flooder.receive_json_from(timeout=20)
        if frame["type"] == "message":
            delivered += 1
        elif frame["type"] == "error":
            assert frame["code"] == "rate_limited" and frame["retry_after"] >= 1
            refused += 1
    elapsed = time.monotonic() - started
    stored = await database_sync_to_async(Message.objects.filter(author=alice).count)()
    assert stored == delivered
    # The burst, plus what the bucket refilled while the flood lasted.
    assert 20 <= stored <= 20 + int(elapsed * 2) + 1
    assert refused == 1000 - stored
    # The socket is still open and another user is unaffected.
    other = await connect(bob)
    await join(other, room.id)
    await other.send_json_to({"type": "send", "room": room.id, "body": "hi", "client_id": "b1"})
    assert (await receive_type(other, "message"))["message"]["body"] == "hi"
    await flooder.send_json_to({"type": "ping"})
    while (frame := await flooder.receive_json_from())["type"] != "pong":
        assert frame["type"] in ("message", "presence", "read")
    await flooder.disconnect()
    await other.disconnect()


@pytest.mark.django_db
def test_the_bucket_refills_at_its_steady_rate(room, alice, settings):
    settings.CHAT_SEND_BURST = 2
    settings.CHAT_SEND_WINDOW = 1  # 2 a second
    services.message_post(room=room, author=alice, body="1")
    services.message_post(room=room, author=alice, body="2")
    with pytest.raises(RateLimitedError):
        services.message_post(room=room, author=alice, body="3")
    time.sleep(0.6)
    services.message_post(room=room, author=alice, body="after a pause")


@pytest.mark.django_db
def test_redis_buckets_are_shared_by_concurrent_takers(settings, redis_layer):
    """Many threads (as many server processes would) draw from one Redis bucket: the
    total allowed is the burst, never more."""
    allowed = []

    def draw():
        for _ in range(10):
            try:
                ratelimit.take("shared-test", burst=25, per_seconds=3600)
                allowed.append(1)
            except ratelimit.RateLimited:
                pass

    threads = [threading.Thread(target=draw) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(allowed) == 25


@pytest.mark.django_db
def test_rooms_and_invitations_per_hour_are_limited(alice, bob, carol, settings):
    settings.CHAT_ROOMS_PER_HOUR = 2
    services.room_create(creator=alice, name="one")
    services.room_create(creator=alice, name="two")
    with pytest.raises(RateLimitedError):
        services.room_create(creator=alice, name="three")
    settings.CHAT_INVITES_PER_HOUR = 1
    direct, _ = services.direct_get_or_create(user=bob, username="alice")
    services.room_invite(room=direct, by=bob, usernames=["carol"])
    with pytest.raises(RateLimitedError):
        services.room_invite(room=direct, by=bob, usernames=["carol"])


@pytest.mark.django_db(transaction=True)
async def test_sockets_per_user_are_limited(alice, settings):
    settings.CHAT_SOCKETS_PER_USER = 2
    first, second = await connect(alice), await connect(alice)
    token = await database_sync_to_async(token_for)(alice)
    third = WebsocketCommunicator(
        application, "/ws/chat/", headers=[(b"authorization", f"Bearer {token}".encode())]
    )
    await third.connect()
    error = await third.receive_json_from()
    assert error["code"] == "too_many_sockets"
    assert (await third.receive_output(timeout=2)) == {"type": "websocket.close", "code": 4429}
    await first.disconnect()
    fourth = await connect(alice)  # a slot is free again
    await fourth.send_json_to({"type": "ping"})
    assert (await fourth.receive_json_from())["type"] == "pong"
    await second.disconnect()
    await fourth.disconnect()
