"""GET /api/rooms/{id}/export streams a room's whole history as JSON lines, for its
members and staff, in batches; nobody else can read it that way."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import ThreadSensitiveContext
from channels.db import database_sync_to_async
from django.test import AsyncClient

from rooms import moderation, services
from rooms.models import Message, Room
from tests.conftest import token_for
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _fill(room: Room, author, count: int) -> None:
    """`count` messages the quick way (seqs 1..count, as the services would number them)."""
    Message.objects.bulk_create(
        Message(room=room, seq=n, rev=n, author=author, body=f"m{n}") for n in range(1, count + 1)
    )
    Room.objects.filter(pk=room.pk).update(last_seq=count, last_rev=count)


async def _export(user, room_id):
    token = await database_sync_to_async(token_for)(user)
    async with ThreadSensitiveContext():
        response = await AsyncClient().get(
            f"/api/rooms/{room_id}/export", headers={"Authorization": f"Bearer {token}"}
        )
    if not response.streaming:
        return response, None
    body = b"".join([chunk async for chunk in response.streaming_content])
    return response, [json.loads(line) for line in body.decode().splitlines()]


async def test_a_member_exports_the_whole_history_in_order(room, alice):
    await database_sync_to_async(_fill)(room, alice, 1205)  # more than two batches
    response, messages = await _export(alice, room.id)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/x-ndjson")
    assert "attachment" in response["Content-Disposition"]
    assert [m["seq"] for m in messages] == list(range(1, 1206))
    assert messages[0]["body"] == "m1" and messages[0]["author"] == "alice"


async def test_staff_may_export_and_visitors_and_the_banned_may_not(room, alice, bob):
    await database_sync_to_async(_fill)(room, alice, 3)
    staff = await database_sync_to_async(UserFactory)(username="staffer", is_staff=True)
    response, messages = await _export(staff, room.id)
    assert response.status_code == 200 and len(messages) == 3
    response, _ = await _export(bob, room.id)  # a visitor of the public room
    assert response.status_code == 403
    await database_sync_to_async(services.room_join)(room=room, user=bob)
    await database_sync_to_async(moderation.member_ban)(room=room, by=alice, username="bob")
    response, _ = await _export(bob, room.id)
    assert response.status_code == 403


async def test_a_private_room_is_not_found_for_outsiders(alice, bob, carol, mallory):
    conference = await database_sync_to_async(services.room_create)(
        creator=alice, name="c", kind=Room.Kind.CONFERENCE, members=["bob", "carol"]
    )
    response, _ = await _export(mallory, conference.id)
    assert response.status_code == 404
    response, _ = await _export(mallory, 999_999)
    assert response.status_code == 404
