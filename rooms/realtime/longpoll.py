"""The long poll: `GET /api/rooms/{id}/messages?after=N&wait=S` over the room stream.

A waiting request follows the room like a socket does (rooms.realtime.stream): it
subscribes, reads what is after N, and if there is nothing yet waits for the room's
next message event. It subscribes through its process's hub (rooms.realtime.hub): the
polls waiting in one process share one channel, so a thousand of them cost one copy of
each message in Redis and no Redis round trip to come and go, and channels-redis
receives for them and for the sockets in one loop, so a waiting poll never holds up a
socket's delivery. Waking a thousand waiters costs no thousand queries: the event
carries the stored message, serialised once; only a gap (repaired from the database by
the stream) or a timeout reads again.
"""

from __future__ import annotations

import asyncio
from typing import Any

from accounts.models import User
from rooms.realtime import db_gate, events, hub
from rooms.realtime.stream import RoomFollow, message_of

Page = dict[str, Any]


class Revoked(Exception):
    """The poll's credential was revoked (log-out, revoked token, deactivation)."""


async def wait_for_messages(
    *, user: User, credential: str | None, room_id: int, after: int, seconds: float, limit: int
) -> Page:
    """The first `limit` messages after `after`, as soon as there is at least one, or
    an empty page after `seconds`. Raises Revoked if, while it waits, the user is
    deactivated or `credential` ("token:<id>", "session:<key>") is revoked."""
    waiter = await hub.current().waiter()
    delivered: list[str] = []

    async def collect(frame: str, live: bool) -> None:
        delivered.append(frame)

    follow = RoomFollow(
        user=user, room_id=room_id, subscriber=waiter, emit=collect, run_db=db_gate.run
    )
    try:
        # Like a socket, a waiting poll hears its user's and its credential's closings.
        for group in events.own_groups(user.pk, credential):
            await waiter.add(group)
        opening = await follow.open(after=after, limit=limit, enter=False, mark_read=False)
        if opening.messages:
            return {"messages": opening.messages, "has_more": opening.has_more}
        waiter.waiting = True
        try:
            async with asyncio.timeout(seconds):
                while not delivered:
                    await _hear(waiter, follow)
            # Whatever else is already queued comes in the same answer.
            while not waiter.queue.empty():
                await _hear(waiter, follow)
        except TimeoutError:
            pass
        if not delivered:
            # Nothing was heard: read once more rather than trust that every
            # broadcast arrived (a layer that dropped one costs a poll, not a message).
            await follow.settle()
    finally:
        follow.cursor = None
        waiter.close()  # no Redis round trip: the hub keeps or leaves the groups
    messages = [message_of(frame) for frame in delivered]
    return {"messages": messages[:limit], "has_more": len(messages) > limit}


async def _hear(waiter: hub.Waiter, follow: RoomFollow) -> None:
    event = await waiter.receive()
    if event.get("type") == "chat.close":
        raise Revoked()
    if event.get("type") == "chat.message":
        await follow.deliver(event["seq"], event["frame"])
