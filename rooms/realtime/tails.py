"""A room's newest message, announced again after the room goes quiet, so that no
connection keeps a hole at the end of a burst.

channels-redis's core layer keeps one inbox per server process in Redis; when a process
is behind and its inbox holds `capacity` group messages, the layer drops the next one for
that whole process (logged at INFO, "over capacity"). Every follow repairs a gap from
the database when a later message arrives (rooms.realtime.stream, rule 2), but the last
messages of a burst have no later one: the sockets of that process would miss them until
the room's next message or a rejoin.

So the process that broadcast a room's newest message sends that same `chat.message`
event again TAIL_DELAYS after its last broadcast to the room (each new message starts
the delays again). A follow that has it drops it by seq, as every door does (old
releases included, so this needs no new event type); a follow behind it reads what it
missed from the database first, then hands it over: in order, once.

Every broadcast of a message goes through rooms.realtime.events, which calls
`broadcast_sent` on the event loop that sent it: a socket's or the gateway's loop, or,
for a post over HTTP, the server's loop that the request's thread handed the send to.
A send from outside any server (a management command) runs on a loop made for that one
call; closing it cancels the pending re-announcement, which then never happens.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any

from channels.layers import get_channel_layer

log = logging.getLogger(__name__)

TAIL_DELAYS = (1.0, 5.0, 20.0)  # seconds after the room's last broadcast from here


class _Tail:
    """A room's newest broadcast from this event loop, and how far its re-announcing is."""

    def __init__(self, event: dict[str, Any], now: float) -> None:
        self.event = event
        self.sent_at = now
        self.stage = 0  # the next of TAIL_DELAYS to wait for


# Per event loop: group -> its tail. One task per quiet-pending room; a new broadcast only
# updates the entry (the hot path creates no task while the room is busy).
_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _Tail]] = (
    weakref.WeakKeyDictionary()
)


def broadcast_sent(group: str, event: dict[str, Any]) -> None:
    """A `chat.message` event was just sent to `group` from this event loop: announce it
    again after the delays, counted from the room's newest broadcast."""
    if not TAIL_DELAYS:
        return
    loop = asyncio.get_running_loop()
    tails = _by_loop.get(loop)
    if tails is None:
        tails = _by_loop[loop] = {}
    tail = tails.get(group)
    if tail is None:
        tails[group] = _Tail(event, loop.time())
        loop.create_task(_announce_again(tails, group))
    elif event.get("seq", 0) >= tail.event.get("seq", 0):
        tail.event, tail.sent_at, tail.stage = event, loop.time(), 0


async def _announce_again(tails: dict[str, _Tail], group: str) -> None:
    loop = asyncio.get_running_loop()
    tail = tails[group]
    try:
        while tail.stage < len(TAIL_DELAYS):
            wait = tail.sent_at + TAIL_DELAYS[tail.stage] - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
                continue  # a newer broadcast may have moved the time
            tail.stage += 1
            try:
                await get_channel_layer().group_send(group, tail.event)
            except Exception:
                log.warning("re-announcing the tail of %s failed", group, exc_info=True)
    finally:
        del tails[group]
