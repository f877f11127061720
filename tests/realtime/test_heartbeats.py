"""One heartbeat loop per event loop beats every connection once per period (instead of
a sleeping task per socket); stopping a connection ends its beats and cancels the one
running, so a closed socket never registers itself again."""

from __future__ import annotations

import asyncio

import pytest

from rooms.realtime import heartbeats, presence
from tests.conftest import connect, join


@pytest.fixture
def fast(settings, monkeypatch):
    settings.CHAT_PRESENCE_TTL = 0.3  # a beat every 0.1 s
    monkeypatch.setattr(heartbeats, "TICK_SECONDS", 0.02)


class Conn:
    def __init__(self, hold: asyncio.Event | None = None) -> None:
        self.beats = 0
        self.finished = 0
        self.hold = hold
        self.started = asyncio.Event()

    async def beat(self) -> None:
        self.beats += 1
        self.started.set()
        if self.hold is not None:
            await self.hold.wait()
        self.finished += 1


def _beat_loops() -> int:
    return sum(1 for t in asyncio.all_tasks() if "_Beats.run" in repr(t.get_coro()))


async def test_many_connections_one_loop_each_beaten_every_period(fast):
    conns = [Conn() for _ in range(50)]
    for conn in conns:
        heartbeats.start(conn)
    assert heartbeats.beating() == 50 and _beat_loops() == 1
    await asyncio.sleep(0.45)
    assert all(3 <= c.beats <= 5 for c in conns), sorted({c.beats for c in conns})
    for conn in conns:
        heartbeats.stop(conn)
    counts = [c.beats for c in conns]
    await asyncio.sleep(0.3)
    assert [c.beats for c in conns] == counts  # no beat after stop
    assert heartbeats.beating() == 0 and _beat_loops() == 0  # the loop ends when idle


async def test_stop_cancels_a_running_beat_and_spares_the_others(fast):
    hold = asyncio.Event()
    stuck, other = Conn(hold), Conn(hold)
    heartbeats.start(stuck)
    heartbeats.start(other)
    await asyncio.wait_for(stuck.started.wait(), 2)
    heartbeats.stop(stuck)  # mid-beat: cancelled, never finishes
    hold.set()
    await asyncio.sleep(0.3)
    assert stuck.finished == 0 and stuck.beats == 1
    assert other.finished >= 2  # the loop went on
    heartbeats.stop(other)


async def test_a_hung_beat_is_cancelled_after_a_period_and_delays_no_one_longer(fast, caplog):
    stuck, fine = Conn(asyncio.Event()), Conn()  # stuck's beats never end by themselves
    heartbeats.start(stuck)
    heartbeats.start(fine)
    await asyncio.sleep(0.75)  # a period is 0.1 s: without the limit, fine beats once
    assert fine.finished >= 3
    assert stuck.beats >= 3 and stuck.finished == 0  # cancelled, then beaten again
    assert "heartbeats still running after" in caplog.text
    heartbeats.stop(stuck)
    heartbeats.stop(fine)


async def test_a_failing_beat_is_logged_and_the_loop_goes_on(fast, caplog):
    class Broken(Conn):
        async def beat(self) -> None:
            self.beats += 1
            raise RuntimeError("redis away")

    broken, fine = Broken(), Conn()
    heartbeats.start(broken)
    heartbeats.start(fine)
    await asyncio.sleep(0.35)
    assert broken.beats >= 2 and fine.finished >= 2
    assert "heartbeat failed" in caplog.text
    heartbeats.stop(broken)
    heartbeats.stop(fine)


@pytest.mark.django_db(transaction=True)
async def test_a_quiet_socket_stays_online_past_the_ttl_and_goes_when_closed(
    layer, fast, settings, room, alice
):
    settings.CHAT_PRESENCE_TTL = 1  # entries live 1 s; a beat every 1/3 s
    socket = await connect(alice)
    await join(socket, room.pk)
    await asyncio.sleep(2.5)  # entries written at the join are long expired
    assert await presence.store().online(room.pk) == ["alice"]
    assert heartbeats.beating() == 1
    await socket.disconnect()
    assert heartbeats.beating() == 0
    assert await presence.store().online(room.pk) == []
