"""One heartbeat loop per event loop for all of a process's chat sockets.

Every connection must refresh its presence entries and its group memberships once per
heartbeat period (rooms.realtime.presence.heartbeat_seconds), or it drops out of
presence and, later, out of its groups. A sleeping task per socket did that, and cost
about a kilobyte per idle socket (the task, its coroutine, its timer). Here each socket
is one entry, "beat again at", in a dict, and one task per event loop beats those that
are due, each at its own time, so the beats stay spread over the period as the
connections' start times are. A beat that fails is logged; one still running after
a whole period (Redis stalled) is cancelled and logged, so it holds up the next round by
at most that long (each round's beats run together, as tasks); it beats again at its
next time, still within the presence TTL (three periods). stop() cancels a running beat, as cancelling the socket's own task did: a closing socket's last beat must not
register it again after it has left.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Protocol

from rooms.realtime import presence

log = logging.getLogger(__name__)

TICK_SECONDS = 1.0  # how often due beats are looked for: a beat is at most this late


class Beating(Protocol):
    async def beat(self) -> None:
        """Refresh presence and groups; log and swallow its own failures."""


class _Beats:
    def __init__(self) -> None:
        self.due: dict[Beating, float] = {}  # connection -> loop time of its next beat
        self.running: dict[Beating, asyncio.Task] = {}  # this round's beats
        self.task: asyncio.Task | None = None

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self.due:
                await asyncio.sleep(TICK_SECONDS)
                now = loop.time()
                ready = [conn for conn, at in self.due.items() if at <= now]
                for conn in ready:
                    self.due[conn] = now + presence.heartbeat_seconds()
                if ready:
                    await self._round(ready)
        finally:
            self.task = None

    async def _round(self, ready: list[Beating]) -> None:
        limit = presence.heartbeat_seconds()
        self.running = {conn: asyncio.create_task(conn.beat()) for conn in ready}
        try:
            _, hung = await asyncio.wait(self.running.values(), timeout=limit)
            for task in hung:
                task.cancel()
            if hung:
                log.warning("%d heartbeats still running after %.3g s: cancelled", len(hung), limit)
                await asyncio.wait(hung, timeout=1.0)  # a beat must not outlive its cancel
            for task in self.running.values():
                if not task.cancelled() and task.exception() is not None:
                    log.warning("heartbeat failed", exc_info=task.exception())
        finally:
            self.running = {}


_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Beats] = weakref.WeakKeyDictionary()


def start(conn: Beating) -> None:
    """Beat `conn` one period from now, and every period after, until stop(conn)."""
    loop = asyncio.get_running_loop()
    beats = _by_loop.get(loop)
    if beats is None:
        beats = _by_loop[loop] = _Beats()
    beats.due[conn] = loop.time() + presence.heartbeat_seconds()
    if beats.task is None:
        beats.task = loop.create_task(beats.run())


def stop(conn: Beating) -> None:
    """No more beats for `conn`, and its running beat cancelled (idempotent)."""
    try:
        beats = _by_loop.get(asyncio.get_running_loop())
    except RuntimeError:
        return
    if beats is not None:
        beats.due.pop(conn, None)
        running = beats.running.pop(conn, None)
        if running is not None:
            running.cancel()


def beating() -> int:
    """How many connections of this event loop are beating (for tests)."""
    beats = _by_loop.get(asyncio.get_running_loop())
    return len(beats.due) if beats else 0
