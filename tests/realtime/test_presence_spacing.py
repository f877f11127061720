"""A big room's presence lists are spaced so each process sends about
PRESENCE_DELIVERIES_PER_SECOND list deliveries a second, whatever the room's size (a
500-member room filling up sent every socket a list of up to 500 names five times a
second per process); the last list still tells the truth. Small rooms keep 0.2 s."""

from __future__ import annotations

import asyncio

import pytest

from rooms.realtime import presence
from tests.conftest import connect, join

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_spacing_grows_with_the_room_between_its_bounds():
    assert presence.presence_spacing(1) == presence.PRESENCE_COALESCE_SECONDS
    assert presence.presence_spacing(50) == presence.PRESENCE_COALESCE_SECONDS
    assert presence.presence_spacing(100) == pytest.approx(0.4)
    assert presence.presence_spacing(500) == presence.PRESENCE_MAX_SPACING
    assert presence.presence_spacing(50_000) == presence.PRESENCE_MAX_SPACING


async def _list(socket, online: list[str]) -> float:
    """When a presence frame listing exactly `online` arrived (other frames skipped)."""
    async with asyncio.timeout(5):
        while True:
            frame = await socket.receive_json_from(timeout=5)
            if frame["type"] == "presence" and frame["online"] == online:
                return asyncio.get_running_loop().time()


async def test_a_big_rooms_next_list_waits_its_spacing(layer, monkeypatch, room, alice, bob, carol):
    monkeypatch.setattr(presence, "PRESENCE_DELIVERIES_PER_SECOND", 5)  # 2 online: 0.4 s
    monkeypatch.setattr(presence, "_presence_quiet_until", {})
    a, b = await connect(alice), await connect(bob)
    await join(a, room.pk)
    await join(b, room.pk)
    first = await _list(a, ["alice", "bob"])
    c = await connect(carol)
    await join(c, room.pk)  # right after the list: the next one waits out the spacing
    second = await _list(a, ["alice", "bob", "carol"])
    assert second - first >= 0.33  # 0.2 s without the spacing
    for socket in (a, b, c):
        await socket.disconnect()
