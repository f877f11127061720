"""A reader's view of a room: the one place that knows how a connection follows it.

The chat socket, the TCP gateway and the long poll all follow rooms through a
RoomFollow and only translate what it hands them (message frames, already serialised)
into frames or lines. The rules, in the order a follow applies them:

1. **Subscribe, then read.** `open()` adds the connection's channel to the room's group
   and only then reads the room (visibility, membership, the opening messages). A
   message is broadcast after its transaction commits, so each message is either in
   the read (committed before it) or broadcast to us (committed after we subscribed).
2. **The cursor.** A follow remembers the last seq it handed over. A broadcast at or
   below it is dropped (already delivered); one above `cursor + 1` means a gap, and
   the missing messages are read from the database and handed over first. So the
   connection sees each message once, in seq order, whatever the channel layer does.
3. **Settle.** Once the opening has been handed over, `settle()` reads what the
   database holds beyond the cursor and delivers it in batches: the rest of a long
   absence, and any message whose broadcast this connection did not see. An opening
   never waits for a later message to repair it.

Tests force each interleaving of these steps with a concurrent post through
rooms.realtime.checkpoints (tests/realtime/test_stream_races.py).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from channels.layers import get_channel_layer

from accounts.models import User
from rooms import access, selectors, services, wire
from rooms.models import Room
from rooms.realtime import checkpoints, events
from rooms.realtime.db_gate import in_thread

BATCH = 500  # messages per read when replaying a long absence

# emit(frame_text, live): hand one `message` frame to the connection, in seq order.
# `live` is False for what was read from the database (a replay may wait for a slow
# client), True for a broadcast.
Emit = Callable[[str, bool], Awaitable[None]]


# --- database reads, in the thread pool -------------------------------------------------


@dataclass
class Opening:
    room: Room
    messages: list[dict[str, Any]]  # wire dicts, oldest first
    has_more: bool  # more after the last one (a long absence): settle() delivers them


def _read_opening(
    user: User,
    room_id: int,
    after: int | None,
    changed_after: int | None,
    newest: int | None,
    limit: int,
    enter: bool,
    mark_read: bool,
) -> Opening:
    read_seq = None  # the member's read position, when known
    if enter:
        room, membership = services.room_enter(user=user, room_id=room_id)
        read_seq = membership.last_read_seq
    else:
        room = access.room_get_visible(user=user, room_id=room_id)
    rows, has_more = [], False
    if room.last_seq == 0:
        pass  # no message yet: nothing to read (a later one is broadcast or settled)
    elif changed_after is not None:
        rows, has_more = selectors.messages_changed_after(room=room, rev=changed_after, limit=limit)
    elif after is not None:
        if after < room.last_seq:  # else nothing after it yet
            rows, has_more = selectors.messages_page(room=room, after=after, limit=limit)
    elif newest:
        rows, _ = selectors.messages_page(room=room, limit=newest)  # older: over the API
    if mark_read and not has_more and (read_seq is None or read_seq < room.last_seq):
        services.membership_mark_read(room=room, user=user, seq=room.last_seq)  # opening reads
    return Opening(room, [wire.message_dict(m) for m in rows], has_more)


def _read_between(room_id: int, after: int, up_to: int) -> list[dict[str, Any]]:
    return [
        wire.message_dict(m)
        for m in selectors.messages_between(room_id=room_id, after=after, up_to=up_to)
    ]


def _read_settle(room_id: int, after: int) -> list[dict[str, Any]]:
    """settle()'s read: usually nothing is beyond the cursor, and the room's last seq
    (committed with its messages) says so in one cheap query."""
    if selectors.room_last_seq(room_id=room_id) <= after:
        return []
    return _read_between(room_id, after, after + BATCH)


# run_db(function, *args): how a follow runs its database reads. Sockets and the
# gateway use the event loop's thread pool (in_thread); an HTTP request uses
# db_gate.run, which stays in the request's own thread.
RunDb = Callable[..., Awaitable[Any]]


async def in_pool(function: Callable[..., Any], *args: Any) -> Any:
    return await in_thread(function)(*args)


# --- following a room -------------------------------------------------------------------


class Subscriber(Protocol):
    """How a follow joins and leaves its room's group: a channel of the connection's own
    (ChannelSubscriber), or a share of its process's long-poll hub (rooms.realtime.hub)."""

    async def add(self, group: str) -> None: ...

    async def discard(self, group: str) -> None: ...


class ChannelSubscriber:
    def __init__(self, channel: str) -> None:
        self.channel = channel
        self.layer = get_channel_layer()

    async def add(self, group: str) -> None:
        await self.layer.group_add(group, self.channel)

    async def discard(self, group: str) -> None:
        await self.layer.group_discard(group, self.channel)


class RoomFollow:
    """One connection following one room: subscription, cursor, gap repair."""

    def __init__(
        self,
        *,
        user: User,
        room_id: int,
        emit: Emit,
        channel: str | None = None,
        subscriber: Subscriber | None = None,
        run_db: RunDb = in_pool,
    ) -> None:
        self.run_db = run_db
        self.user = user
        self.room_id = room_id
        self.emit = emit
        self.group = events.room_group(room_id)
        self.cursor: int | None = None  # last seq handed over; None until opened
        if subscriber is None:
            assert channel is not None, "a follow needs a channel or a subscriber"
            subscriber = ChannelSubscriber(channel)
        self.subscriber = subscriber

    @property
    def is_open(self) -> bool:
        return self.cursor is not None

    async def open(
        self,
        *,
        after: int | None = None,
        changed_after: int | None = None,
        newest: int | None = None,
        limit: int = BATCH,
        enter: bool = True,
        mark_read: bool = True,
    ) -> Opening:
        """Subscribe, then read the opening: the messages after `after`, the changes
        after `changed_after`, or the newest `newest` messages (none if 0). `enter`
        makes the user a member of a public room (a socket's join); `mark_read` moves
        their read position to the end when the opening reaches it. Raises the
        services' errors (RoomNotFound, Banned ...) with nothing left subscribed."""
        await self.subscriber.add(self.group)
        try:
            await checkpoints.reached("stream.subscribed")
            opening = await self.run_db(
                _read_opening,
                self.user,
                self.room_id,
                after,
                changed_after,
                newest,
                limit,
                enter,
                mark_read,
            )
            await checkpoints.reached("stream.read")
        except BaseException:
            if not self.is_open:
                await self.subscriber.discard(self.group)
            raise
        seqs = [m["seq"] for m in opening.messages]
        last_seq = opening.room.last_seq  # read before the messages
        if after is not None and changed_after is None:
            # A client claiming more than exists has seen nothing beyond the end.
            self.cursor = max([min(after, last_seq), *seqs])
        else:
            self.cursor = max([last_seq, *seqs])
        return opening

    async def settle(self) -> None:
        """Deliver everything the database holds beyond the cursor, in batches."""
        while True:
            start = self.cursor
            batch = await self.run_db(_read_settle, self.room_id, start)
            for message in batch:
                await self._hand_over(message["seq"], wire.frame("message", message=message))
            if len(batch) < BATCH:
                return

    async def deliver(self, seq: int, frame: str) -> None:
        """A broadcast `message` frame for this room: drop it if already delivered,
        repair a gap before it, then hand it over."""
        if self.cursor is None or seq <= self.cursor:
            return
        if seq > self.cursor + 1:
            for missing in await self.run_db(_read_between, self.room_id, self.cursor, seq - 1):
                await self._hand_over(
                    missing["seq"], wire.frame("message", message=missing), live=False
                )
        await self._hand_over(seq, frame, live=True)

    async def _hand_over(self, seq: int, frame: str, *, live: bool = False) -> None:
        if self.cursor is not None and seq <= self.cursor:
            return
        await self.emit(frame, live)
        self.cursor = seq

    async def close(self) -> None:
        """Unsubscribe; later broadcasts are ignored."""
        self.cursor = None
        await self.subscriber.discard(self.group)


def message_of(frame: str) -> dict[str, Any]:
    """The Message inside a `message` frame (for doors that print it as a line)."""
    return json.loads(frame)["message"]
