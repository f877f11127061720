"""selectors.membership_with_room reads a membership and its room in one raw query:
the same values as the ORM's select_related, on SQLite and PostgreSQL (datetimes,
booleans, nulls and all)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from rooms import selectors, services
from rooms.models import Membership, Room

pytestmark = pytest.mark.django_db


def _fields(obj) -> dict:
    return {k: v for k, v in obj.__dict__.items() if not k.startswith("_")}


def test_the_same_membership_and_room_as_the_orm(room, alice, bob):
    services.room_join(room=room, user=bob)
    Membership.objects.filter(room=room, user=bob).update(
        muted_until=timezone.now() + timedelta(hours=1), last_read_seq=7, notify_level="all"
    )
    Room.objects.filter(pk=room.pk).update(topic="ünïcode", is_locked=True)
    for user in (alice, bob):
        expected = Membership.objects.select_related("room").get(room=room, user=user)
        got = selectors.membership_with_room(room_id=room.pk, user_id=user.pk)
        assert _fields(got) == _fields(expected)
        assert _fields(got.room) == _fields(expected.room)
    got = selectors.membership_with_room(room_id=room.pk, user_id=bob.pk)
    assert got.muted_until.tzinfo is not None and got.room.is_locked is True
    got.last_read_seq = 9
    got.save(update_fields=["last_read_seq"])  # a usable instance, not a copy
    assert Membership.objects.get(pk=got.pk).last_read_seq == 9


def test_no_membership_is_none(room, bob):
    assert selectors.membership_with_room(room_id=room.pk, user_id=bob.pk) is None
    assert selectors.membership_with_room(room_id=room.pk + 1000, user_id=bob.pk) is None
