"""Waiting for a room's next messages without a thread or a sleep loop.

A waiting request gets its own channel on the channel layer and joins the room's
group, exactly like a socket, and wakes on the first `chat.message` event. A thousand
waiters cost a thousand small futures and group entries; the caller's `read` goes
through rooms.realtime.db_gate, so none of them holds a database connection while it waits.

The event carries the stored message, serialised once by the sender, so in the normal
case (the next seq, or a run of consecutive seqs already queued) the answer is built
from the events with no database read: waking a thousand waiters costs no thousand
queries. Anything else (a gap, something unexpected) falls back to reading.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from channels.layers import get_channel_layer

from rooms.realtime import events

Page = dict[str, Any]


async def wait_for_messages(
    *, room_id: int, after: int, seconds: float, read: Callable[[], Awaitable[Page]]
) -> Page:
    """Read now; if there is nothing after `after`, wait up to `seconds` for message
    events. Subscribing happens before the first read, so a message committed in
    between still wakes us."""
    layer = get_channel_layer()
    group = events.room_group(room_id)
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    try:
        page = await read()
        if page["messages"]:
            return page
        try:
            async with asyncio.timeout(seconds):
                while True:
                    event = await layer.receive(channel)
                    if event.get("type") == "chat.message" and event.get("seq", 0) > after:
                        break
        except TimeoutError:
            return page
        messages = [event]
        # Take whatever else is already queued, without waiting.
        while True:
            try:
                async with asyncio.timeout(0):
                    more = await layer.receive(channel)
            except TimeoutError:
                break
            if more.get("type") == "chat.message":
                messages.append(more)
        seqs = [m["seq"] for m in messages]
        if seqs != list(range(after + 1, after + 1 + len(seqs))):
            return await read()  # a gap or a reorder: the database knows best
        return {
            "messages": [json.loads(m["frame"])["message"] for m in messages],
            "has_more": False,
        }
    finally:
        await layer.group_discard(group, channel)
