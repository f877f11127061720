"""Nobody hears of a change that could still roll back: broadcasts leave only after the
commit, a rolled-back post broadcasts nothing, and the suite-wide check
(tests/conftest.py) really catches a broadcast sent inside a transaction."""

from __future__ import annotations

import pytest
from channels.layers import get_channel_layer
from django.db import transaction

from rooms import services
from rooms.models import Message
from rooms.realtime import events

pytestmark = pytest.mark.django_db(transaction=True)


def _listen(room_id: int) -> str:
    from asgiref.sync import async_to_sync

    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(events.room_group(room_id), channel)
    return channel


def _heard(channel: str) -> list[dict]:
    from asgiref.sync import async_to_sync

    async def drain():
        import asyncio

        layer = get_channel_layer()
        heard = []
        while True:
            try:
                async with asyncio.timeout(0.2):
                    heard.append(await layer.receive(channel))
            except TimeoutError:
                return heard

    return async_to_sync(drain)()


class Boom(Exception):
    pass


def test_a_rolled_back_post_broadcasts_nothing(room, alice):
    channel = _listen(room.id)
    with pytest.raises(Boom), transaction.atomic():
        services.message_post(room=room, author=alice, body="never", client_id="x")
        raise Boom
    assert not Message.objects.exists()
    assert _heard(channel) == []


def test_a_committed_post_is_heard_once_after_the_commit(room, alice):
    channel = _listen(room.id)
    with transaction.atomic():
        services.message_post(room=room, author=alice, body="hello")
        assert _heard(channel) == []  # not yet: the transaction is open
    heard = [e for e in _heard(channel) if e["type"] == "chat.message"]
    assert [e["seq"] for e in heard] == [1]


def test_the_suite_check_catches_a_broadcast_inside_a_transaction(
    room, broadcasts_outside_transactions
):
    with transaction.atomic():
        events._send_now(events.room_group(room.id), {"type": "chat.forward", "frame": "{}"})
    assert broadcasts_outside_transactions == [events.room_group(room.id)]
    broadcasts_outside_transactions.clear()  # caught: this test made it on purpose
