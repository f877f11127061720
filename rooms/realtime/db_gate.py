"""Database calls from async views, bounded.

Under ASGI, Django runs each request's sync code in a thread of the request's own, and
that thread's database connection stays open until the request ends. For ordinary
requests that is fine; for long polls it is not: a burst of a thousand polls (they all
come back at once after a message wakes them) would open a thousand connections, and
a waiting poll would hold one for its whole wait. So async views run their database
work through `run()`: at most CHAT_DB_CONCURRENCY calls at once per process, each
closing its connection when done. Sockets and the gateway use `in_thread`.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connections

from rooms.realtime import events

T = TypeVar("T")
_gates: dict[int, asyncio.Semaphore] = {}


def _gate() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    gate = _gates.get(id(loop))
    if gate is None:
        gate = _gates[id(loop)] = asyncio.Semaphore(settings.CHAT_DB_CONCURRENCY)
    return gate


def _close_connections() -> None:
    # Never inside a transaction someone else opened (a test's, for one).
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close()


def _call_and_close(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    try:
        return function(*args, **kwargs)
    finally:
        _close_connections()


async def run(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    async with _gate():
        return await sync_to_async(_call_and_close)(function, *args, **kwargs)


def in_thread(function: Callable[..., T]) -> Callable[..., Any]:
    """For sockets and the gateway: run ORM code in the event loop's thread pool (a
    few threads, so a few connections), not in the one thread Channels uses by
    default, where every socket's database work would queue behind every other's.
    Like Channels' database_sync_to_async, it closes stale connections around each
    call (with the PostgreSQL pool, it returns them). The call's broadcasts go into an
    events.Outbox that the event loop flushes once the call returns, so the thread is
    free as soon as its transaction commits.

    The call closes its connection itself (with the PostgreSQL pool: returns it)
    instead of leaving that to Channels' close_old_connections, which Channels' test
    communicator turns into a no-op: a pool connection left in a thread that then
    ends (each event loop's executor does) is never returned, and the pool runs dry."""

    def collecting(*args: Any, **kwargs: Any) -> tuple[bool, Any, events.Outbox]:
        with events.outbox() as box:
            try:
                return True, function(*args, **kwargs), box
            except BaseException as exc:  # what committed before the error is still sent
                return False, exc, box
            finally:
                _close_connections()

    threaded = database_sync_to_async(collecting, thread_sensitive=False)

    @functools.wraps(function)
    async def call(*args: Any, **kwargs: Any) -> Any:
        ok, outcome, box = await threaded(*args, **kwargs)
        await box.flush()
        if not ok:
            raise outcome
        return outcome

    async def deferred(*args: Any, **kwargs: Any) -> tuple[Any, events.Outbox]:
        """The call's result and its unsent Outbox: the caller flushes it (in order)."""
        ok, outcome, box = await threaded(*args, **kwargs)
        if not ok:
            await box.flush()  # what committed before the error
            raise outcome
        return outcome, box

    call.deferred = deferred  # type: ignore[attr-defined]
    return call
