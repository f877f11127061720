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
    monkeypatch.setattr(presence, "PRESENCE_DELIVERIES_PER_SECOND", 2)  # 2 online: 1 s
    monkeypatch.setattr(presence, "_presence_quiet_until", {})
    monkeypatch.setattr(presence, "_presence_spacing", {})
    a, b = await connect(alice), await connect(bob)
    await join(a, room.pk)
    await join(b, room.pk)
    first = await _list(a, ["alice", "bob"])
    c = await connect(carol)
    await join(c, room.pk)  # right after the list: the next one waits out the spacing
    second = await _list(a, ["alice", "bob", "carol"])
    assert second - first >= 0.9  # carol's join + 0.2 s without the spacing
    for socket in (a, b, c):
        await socket.disconnect()


async def test_a_change_during_a_lists_read_waits_the_spacing_too(monkeypatch):
    """The list's task unregisters before it reads (so a change during the read is sent
    again); that next list still waits the spacing of the room's last list."""
    monkeypatch.setattr(presence, "PRESENCE_DELIVERIES_PER_SECOND", 2)  # 2 online: 1 s
    monkeypatch.setattr(presence, "_presence_pending", {})
    monkeypatch.setattr(presence, "_presence_quiet_until", {})
    monkeypatch.setattr(presence, "_presence_spacing", {7: 1.0})  # its last list: 2 online
    loop = asyncio.get_running_loop()
    reading, release, sent = asyncio.Event(), asyncio.Event(), []

    class HeldStore:
        async def online(self, room_id):
            reading.set()
            await release.wait()
            return ["alice", "bob"]

    async def asend(group, event):
        sent.append(loop.time())

    monkeypatch.setattr(presence, "store", HeldStore)
    monkeypatch.setattr(presence.events, "asend", asend)
    await presence._announce(room_id=7)
    await asyncio.wait_for(reading.wait(), 2)  # the list's read is under way
    await presence._announce(room_id=7)  # a join during the read
    release.set()
    async with asyncio.timeout(3):
        while len(sent) < 2:  # noqa: ASYNC110 - the tasks append
            await asyncio.sleep(0.02)
    assert sent[1] - sent[0] >= 0.75  # 0.2 s without the provisional spacing
