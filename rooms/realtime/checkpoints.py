"""Named points in the delivery protocol where tests pause to force an interleaving.

`await reached("stream.subscribed")` does nothing in production. A test installs a
hook (tests/realtime/conftest.py) that can hold a coroutine at a point until the test
has made something else happen, so each ordering of "subscribe, read, commit,
broadcast" is run on purpose rather than by luck. The points:

- "stream.subscribed": a follow has joined the room's group, before its first read;
- "stream.read": a follow has read its opening, before it sets its cursor;
- "events.committed": a service's transaction committed, before its broadcasts go out
  (broadcasts collected in an Outbox, i.e. services run by sockets and the gateway).

Across processes (tests with real daphne workers), a worker started with
CHAT_CHECKPOINT_DIR set holds at a point while a file `hold.<point>` exists there:
the first arrival renames it to `reached.<point>` (so exactly one arrival is held),
then waits until the test creates `release.<point>`. A hold file may name an event
type the arrival must carry (for "events.committed"). Unset, nothing is read.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
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


async def _hold_by_files(directory: Path, name: str, **details: Any) -> None:
    hold = directory / f"hold.{name}"
    try:
        wanted = hold.read_text().strip()
    except FileNotFoundError:
        return
    if wanted and wanted not in details.get("types", []):
        return
    reached = directory / f"reached.{name}"
    try:
        hold.rename(reached)  # atomic: one arrival claims it
    except FileNotFoundError:
        return
    release = directory / f"release.{name}"
    # Another process creates the file: there is no event to await, so look for it.
    while not release.exists():  # noqa: ASYNC110
        await asyncio.sleep(0.02)


if os.environ.get("CHAT_CHECKPOINT_DIR"):
    _directory = Path(os.environ["CHAT_CHECKPOINT_DIR"])

    async def _file_hook(name: str, **details: Any) -> None:
        await _hold_by_files(_directory, name, **details)

    install(_file_hook)
