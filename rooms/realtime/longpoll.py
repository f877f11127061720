"""The long poll: `GET /api/rooms/{id}/messages?after=N&wait=S` over the room stream.

A waiting request follows the room like a socket does (rooms.realtime.stream): it
subscribes, reads what is after N, and if there is nothing yet waits for the room's
next message event. Its channel is an ordinary one of this process (the default
prefix), so channels-redis receives for it and for the sockets in one loop: a waiting
poll never holds up a socket's delivery. Waking a thousand waiters costs no thousand
queries: the event carries the stored message, serialised once; only a gap (repaired
from the database by the stream) or a timeout reads again.
"""

from __future__ import annotations

import asyncio
from typing import Any

from channels.layers import get_channel_layer

from accounts.models import User
from rooms.realtime import db_gate, events
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
    layer = get_channel_layer()
    channel = await layer.new_channel()
    # Like a socket, a waiting poll hears its user's and its credential's closings.
    closing = [events.user_group(user.pk)]
    if credential:
        closing.append(events.credential_group(credential))
    for group in closing:
        await layer.group_add(group, channel)
    delivered: list[str] = []

    async def collect(frame: str, live: bool) -> None:
        delivered.append(frame)

    follow = RoomFollow(
        user=user, room_id=room_id, channel=channel, emit=collect, run_db=db_gate.run
    )
    try:
        opening = await follow.open(after=after, limit=limit, enter=False, mark_read=False)
        if opening.messages:
            return {"messages": opening.messages, "has_more": opening.has_more}
        try:
            async with asyncio.timeout(seconds):
                while not delivered:
                    await _hear(layer, channel, follow)
            # Whatever else is already queued comes in the same answer.
            while True:
                async with asyncio.timeout(0):
                    await _hear(layer, channel, follow)
        except TimeoutError:
            pass
        if not delivered:
            # Nothing was heard: read once more rather than trust that every
            # broadcast arrived (a layer that dropped one costs a poll, not a message).
            await follow.settle()
    finally:
        await follow.close()
        for group in closing:
            await layer.group_discard(group, channel)
    messages = [message_of(frame) for frame in delivered]
    return {"messages": messages[:limit], "has_more": len(messages) > limit}


async def _hear(layer, channel: str, follow: RoomFollow) -> None:
    event = await layer.receive(channel)
    if event.get("type") == "chat.close":
        raise Revoked()
    if event.get("type") == "chat.message":
        await follow.deliver(event["seq"], event["frame"])
