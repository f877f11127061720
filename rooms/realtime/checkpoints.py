"""Named points in the delivery protocol where tests pause to force an interleaving.

`await reached("stream.subscribed")` does nothing in production. A test installs a
hook (tests/realtime/conftest.py) that can hold a coroutine at a point until the test
has made something else happen, so each ordering of "subscribe, read, commit,
broadcast" is run on purpose rather than by luck. The points:

- "stream.subscribed": a follow has joined the room's group, before its first read;
- "stream.read": a follow has read its opening, before it sets its cursor;
- "events.committed": a service's transaction committed, before its broadcasts go out
  (broadcasts collected in an Outbox, i.e. services run by sockets and the gateway).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

Hook = Callable[..., Awaitable[None]]
_hook: Hook | None = None


async def reached(name: str, **details: Any) -> None:
    """`details` let a test pick which arrival to hold (events.committed passes the
    event types it is about to send)."""
    if _hook is not None:
        await _hook(name, **details)


def install(hook: Hook | None) -> None:
    global _hook
    _hook = hook
