"""A socket's `send` frames: stored in the order they came, together when they wait
together, without holding up the socket's other frames.

Channels hands a consumer its frames one at a time. When `send` awaited its post, the
next frame was not even read until the post's database round trips were done, so a
sender's throughput was one over that chain; under load the chain grew (every wait
queued for the CPU) and the backlog fed itself.

So a `send` goes into this queue and the socket reads on. One task per socket, started
when there is something to post and gone when the queue is empty, takes every post
waiting for the same room at that moment (up to BATCH_MAX) and hands them to
services.messages_post together: one transaction and a handful of statements however
many there are (a group commit). A quiet socket's batch is its one message, stored as
soon as it comes; a busy one's batches grow with its backlog, so a backlog makes the
work per message cheaper instead of the wait longer. The rules:

- **Order.** One task per socket, items in arrival order, a batch is a run of
  consecutive posts to one room: a socket's messages take seqs in the order it sent
  them. A command (`/me`, `/who` ...) is an item of its own, in its place.
- **Frames that change what the socket follows wait.** `join` and `leave` await
  `drained()` first, so the socket's view is as if its frames were handled one at a
  time (a message is acknowledged to a socket not joined to its room, or delivered
  by the join, never both).
- **Bounded.** At most CHAT_SEND_QUEUE items wait per socket; beyond that a `send` is
  refused with a `rate_limited` error frame (`retry_after` 1), stores nothing, and the
  client sends it again with the same `client_id`.
- **Broadcasts in order, off the sender's path.** A batch's broadcasts (its Outbox)
  are sent by `broadcast()`, after the previous batch's, while the next batch is
  already in the database: the sender's chain no longer waits for the channel layer's
  round trips between batches.
- **A closing socket's sends are still stored** and broadcast: the consumer awaits
  `drained()` (bounded) before it cleans up. Past that bound, a batch already in the
  database still finishes, broadcasts included (`drop_waiting`); sends not yet taken
  are dropped unanswered, and the client sends them again.
- **A command waits for the broadcasts before it** (`broadcasts_sent`): it broadcasts
  on its own, and must not overtake the posts sent before it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from rooms.errors import RateLimitedError
from rooms.realtime import events

BATCH_MAX = 100  # posts per transaction


@dataclass
class Pending:
    room_id: int
    frame: dict[str, Any]
    ref: str | None  # the frame's client_id, for its error frame
    is_command: bool = False


# handle(items): post one batch (posts of one room) or run one command; reports its own
# errors, raises nothing a client could cause.
Handle = Callable[[list[Pending]], Awaitable[None]]


class SendQueue:
    def __init__(self, handle: Handle) -> None:
        self.handle = handle
        # Made by the first send: most sockets never send, and an empty deque holds a
        # block of 64 slots (every idle socket of a process has one of these queues).
        self.items: deque[Pending] | None = None
        self.task: asyncio.Task | None = None  # running while items wait; None: idle
        self.broadcasting: asyncio.Task | None = None  # the newest batch's broadcasts

    def put(self, item: Pending) -> None:
        """Queue a send; RateLimitedError (nothing queued) when the queue is full."""
        if self.items is None:
            self.items = deque()
        if len(self.items) >= settings.CHAT_SEND_QUEUE:
            raise RateLimitedError(
                1,
                detail="Too many messages are waiting to be stored on this connection; "
                "this one was not. Send it again shortly.",
            )
        self.items.append(item)
        if self.task is None:
            self.task = asyncio.create_task(self._run())

    async def drained(self) -> None:
        """Return once every send queued so far has been handled and broadcast."""
        while self.task is not None:  # a send queued meanwhile keeps it (or a new one) going
            await asyncio.wait([self.task])
        await self.broadcasts_sent()

    def broadcast(self, box: events.Outbox) -> None:
        """Send a batch's broadcasts once the previous batch's are sent."""
        previous = self.broadcasting

        async def after_previous() -> None:
            if previous is not None:
                await asyncio.wait([previous])
            await box.flush()  # logs and swallows a failed group_send itself

        self.broadcasting = asyncio.create_task(after_previous())

    def _take(self) -> list[Pending]:
        assert self.items
        first = self.items.popleft()
        batch = [first]
        if first.is_command:
            return batch
        while (
            self.items
            and len(batch) < BATCH_MAX
            and not self.items[0].is_command
            and self.items[0].room_id == first.room_id
        ):
            batch.append(self.items.popleft())
        return batch

    async def _run(self) -> None:
        try:
            while self.items:
                await self.handle(self._take())
        finally:
            self.task = None

    async def broadcasts_sent(self) -> None:
        """Return once the broadcasts of every batch stored so far are sent (a command
        broadcasts on its own, and must not overtake them)."""
        while self.broadcasting is not None and not self.broadcasting.done():
            await asyncio.wait([self.broadcasting])

    def drop_waiting(self) -> None:
        """The socket is gone: forget the sends not yet taken (never answered, so the
        client sends them again). A batch already in the database is left to finish,
        broadcasts included: its messages may be committed already."""
        if self.items is not None:
            self.items.clear()
