"""One channel-layer subscription per process for the long polls waiting in it.

A long poll used to take a channel of its own and add it to three groups (its room,
its user, its credential), then remove it when answered: six Redis round trips per
poll, a thousand channel-layer copies of one message when a thousand polls wait, and a
thousand polls woken at once opening hundreds of new Redis connections to unsubscribe
(docs/performance.md, "Long polls"). Zulip keeps its long-poll event queues in the
process for the same reason.

Here the waiters of one process share one channel. The hub adds it to a group while
some waiter needs the group, hands every event that arrives to the waiters of the group
it was sent to (every event names its group: rooms.realtime.events), and keeps a group
for LINGER seconds after its last waiter leaves, since a long-poll client asks again
at once. When no waiter has been here for LINGER seconds the hub leaves its groups and
retires its channel; the next waiter starts a new one, so nothing sent to the old
channel can reach it. A waiter is an asyncio queue: handing an event over never waits.

What a waiter may rely on, as with a channel of its own: once `add(group)` returns, the
hub's channel is in the group, so every event sent to it from then on is handed over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings

from rooms.realtime import events

log = logging.getLogger(__name__)

LINGER = 10.0  # seconds a group (and the hub) outlives its last waiter
# Re-add a group this often (never less often than a third of the layer's group
# expiry): a Redis server restarted without the reader noticing (another server of
# several, or a retried connection) has forgotten the group; new polls heal it.
REFRESH = 10.0
RETRY = 0.5  # seconds between receive attempts while the layer fails


class Waiter:
    """One long poll's inbox: the events of the groups it added, in arrival order."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.groups: set[str] = set()
        self.waiting = False  # subscribed and read, nothing to answer yet

    async def add(self, group: str) -> None:
        """Hear `group`; returns once the hub's channel is subscribed to it."""
        self.groups.add(group)
        await self.hub._add(group, self)

    async def discard(self, group: str) -> None:
        self.groups.discard(group)
        self.hub._discard(group, self)

    def close(self) -> None:
        for group in list(self.groups):
            self.hub._discard(group, self)
        self.groups.clear()
        self.hub._left(self)

    async def receive(self) -> dict[str, Any]:
        return await self.queue.get()


class Hub:
    """The waiters of one event loop and the groups its one channel is in."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.layer = get_channel_layer()
        self.channel: str | None = None
        self.waiters: set[Waiter] = set()
        self.listeners: dict[str, set[Waiter]] = {}
        self.subscribed: dict[str, asyncio.Task] = {}  # group -> its group_add
        self.leaving: dict[str, asyncio.Task] = {}  # group -> its group_discard
        self.added_at: dict[str, float] = {}
        self.idle_since: dict[str, float] = {}
        self.reader: asyncio.Task | None = None
        self.retire_timer: asyncio.TimerHandle | None = None
        self.starting = asyncio.Lock()

    async def waiter(self) -> Waiter:
        if self.retire_timer is not None:
            self.retire_timer.cancel()
            self.retire_timer = None
        if self.channel is None or self.reader is None or self.reader.done():
            async with self.starting:  # two first waiters must not start two channels
                if self.channel is None:
                    self.channel = await self.layer.new_channel()
                if self.reader is None or self.reader.done():  # never deaf
                    self.reader = self.loop.create_task(self._read(self.channel))
        waiter = Waiter(self)
        self.waiters.add(waiter)
        return waiter

    async def _add(self, group: str, waiter: Waiter) -> None:
        self.listeners.setdefault(group, set()).add(waiter)
        self.idle_since.pop(group, None)
        leaving = self.leaving.get(group)
        if leaving is not None:  # a discard must not land after our add
            await asyncio.shield(leaving)
        task = self.subscribed.get(group)
        refresh = min(REFRESH, settings.CHANNEL_GROUP_EXPIRY / 3)
        stale = time.monotonic() - self.added_at.get(group, 0.0) > refresh
        if task is None or (task.done() and (task.cancelled() or task.exception() or stale)):
            task = asyncio.ensure_future(self.layer.group_add(group, self.channel))
            self.subscribed[group] = task
            self.added_at[group] = time.monotonic()
        try:
            await asyncio.shield(task)
        except Exception:
            if self.subscribed.get(group) is task:  # the next waiter tries again
                del self.subscribed[group]
            raise

    def _discard(self, group: str, waiter: Waiter) -> None:
        listeners = self.listeners.get(group)
        if listeners is not None:
            listeners.discard(waiter)
            if not listeners:
                del self.listeners[group]
                self.idle_since[group] = time.monotonic()
        self._leave_idle_groups()

    def _left(self, waiter: Waiter) -> None:
        self.waiters.discard(waiter)
        if not self.waiters and self.channel is not None and self.retire_timer is None:
            loop = asyncio.get_running_loop()
            self.retire_timer = loop.call_later(LINGER, self._retire_if_idle)

    def _leave_idle_groups(self) -> None:
        """Unsubscribe (in the background) from groups nobody has needed for LINGER.

        `idle_since` is in the order the groups went idle (a group is removed when a
        waiter needs it again and re-added at the end when it is idle again), so the
        scan stops at the first group idle for less than LINGER: a thousand polls
        closing at once cost a thousand short scans, not a million steps."""
        now = time.monotonic()
        while self.idle_since:
            group, since = next(iter(self.idle_since.items()))
            if now - since < LINGER:
                break
            del self.idle_since[group]
            # Even if its add failed: it may have landed (a discard is harmless).
            adding = self.subscribed.pop(group, None)
            self.added_at.pop(group, None)
            if self.channel is not None:
                leaving = asyncio.ensure_future(self._leave(group, self.channel, adding))
                self.leaving[group] = leaving
                leaving.add_done_callback(
                    lambda done, g=group: self.leaving.get(g) is done and self.leaving.pop(g)
                )

    def _retire_if_idle(self) -> None:
        """Nobody has waited here for LINGER: stop reading and leave every group, in the
        background. The next waiter starts a new channel, which no discard of the old
        one can touch, so it never waits for this."""
        self.retire_timer = None
        if self.waiters or self.channel is None:
            return
        channel, reader = self.channel, self.reader
        groups = {group: self.subscribed.get(group) for group in {*self.subscribed, *self.added_at}}
        self.channel, self.reader = None, None
        self.subscribed.clear()
        self.added_at.clear()
        self.idle_since.clear()
        self.leaving.clear()  # they concern the old channel
        if reader is not None:
            reader.cancel()
        for group, adding in groups.items():
            asyncio.ensure_future(self._leave(group, channel, adding))

    async def _leave(self, group: str, channel: str, adding: asyncio.Task | None) -> None:
        """Discard `channel` from `group` once its add (if any is pending) has landed,
        so the discard cannot be overtaken by it."""
        if adding is not None:
            with contextlib.suppress(BaseException):
                await asyncio.shield(adding)
        await self._quietly(self.layer.group_discard, group, channel)

    @staticmethod
    async def _quietly(operation, group: str, channel: str) -> None:
        try:
            await operation(group, channel)
        except Exception:
            log.warning("long-poll hub: %s of %s failed", operation.__name__, group)

    async def _read(self, channel: str) -> None:
        while True:
            try:
                event = await self.layer.receive(channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                # Redis away: it may come back empty, without our groups. Waiting polls
                # time out and read the database; the next waiter subscribes again.
                log.warning("long-poll hub: receive failed", exc_info=True)
                for group in list(self.subscribed):
                    self.added_at[group] = 0.0
                await asyncio.sleep(RETRY)
                continue
            try:
                group = event.get("group")
                room = event.get("room")
                if group is None and event.get("type") == "chat.message" and room is not None:
                    # From a worker of the previous release (during a rolling deploy).
                    group = events.room_group(room)
                for waiter in list(self.listeners.get(group, ())):
                    waiter.queue.put_nowait(event)
            except Exception:  # a malformed event must not leave the polls deaf
                log.warning("long-poll hub: event not handed over: %r", event, exc_info=True)


_hubs: dict[tuple[int, int], Hub] = {}


def waiting() -> int:
    """Long polls waiting in this event loop (subscribed, read, nothing to answer yet):
    GET /healthz reports it per worker."""
    loop = asyncio.get_running_loop()
    return sum(
        sum(1 for waiter in hub.waiters if waiter.waiting)
        for hub in _hubs.values()
        if hub.loop is loop
    )


def current() -> Hub:
    """The hub of the running event loop and the configured channel layer (tests run
    several loops, and switch layers)."""
    loop, layer = asyncio.get_running_loop(), get_channel_layer()
    for stale in [k for k, h in _hubs.items() if h.loop.is_closed()]:
        del _hubs[stale]  # tests close their loops
    key = (id(loop), id(layer))
    hub = _hubs.get(key)
    if hub is None or hub.loop is not loop or hub.layer is not layer:  # ids are reused
        hub = _hubs[key] = Hub()
    return hub
