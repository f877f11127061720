"""Waiting for a room's next message without a thread or a sleep loop.

A waiting request gets its own channel on the channel layer and joins the room's
group, exactly like a socket; it wakes on the first `chat.message` event. A thousand
waiters cost a thousand small futures and group entries, nothing more.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from channels.layers import get_channel_layer

from rooms import events

T = TypeVar("T")


async def wait_for_messages(
    *,
    room_id: int,
    after: int,
    seconds: float,
    read: Callable[[], Awaitable[T]],
    is_empty: Callable[[T], bool],
) -> T:
    """Read now; if there is nothing after `after`, wait up to `seconds` for a
    message event, then read again. Subscribing happens before the first read, so a
    message committed in between still wakes us."""
    layer = get_channel_layer()
    group = events.room_group(room_id)
    channel = await layer.new_channel("longpoll.")
    await layer.group_add(group, channel)
    try:
        result = await read()
        if not is_empty(result):
            return result
        try:
            async with asyncio.timeout(seconds):
                while True:
                    event = await layer.receive(channel)
                    if event.get("type") == "chat.message" and event.get("seq", 0) > after:
                        break
        except TimeoutError:
            return result
        return await read()
    finally:
        await layer.group_discard(group, channel)
