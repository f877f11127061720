"""A socket's database calls give their connection back when they finish.

With the PostgreSQL pool a connection left open in a worker thread is a pool slot
lost for good once that thread ends (each event loop's executor threads do). The
realtime code must not count on Channels' close_old_connections for this: Channels'
own test communicator turns it into a no-op, and the suite's PostgreSQL run once ran
its pool dry one test at a time (every later socket test timed out)."""

from __future__ import annotations

import asyncio
import threading

import pytest
from asgiref.sync import SyncToAsync
from django.db import connection as default_connection
from django.db.backends.signals import connection_created

from tests.conftest import connect, join, receive_type

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def opened():
    """Every database connection opened during the test, with the thread opening it."""
    seen: list[tuple[threading.Thread, object]] = []

    def record(sender, connection, **kwargs):
        seen.append((threading.current_thread(), connection))

    connection_created.connect(record)
    yield seen
    connection_created.disconnect(record)


def _asgiref_sync_thread(thread: threading.Thread) -> bool:
    """asgiref's one long-lived sync thread (Channels' auth middleware runs there):
    outside the realtime code, and never ends, so it cannot strand a connection."""
    executor = SyncToAsync.single_thread_executor
    return thread in getattr(executor, "_threads", ())


async def test_a_sockets_database_work_leaves_no_connection_open(opened, room, alice, bob):
    """alice's socket works while the test waits on bob's (Channels' communicator
    disables close_old_connections process-wide while it waits, as it did in the
    suite's busy tests); every connection her work opened is closed after it."""
    # Connections an earlier test left checked out of the pool (Django's test clients
    # keep a request's connection open: they switch off close_old_connections) are not
    # this socket's: count from here.
    pooled = default_connection.vendor == "postgresql" and default_connection.pool
    before = _in_use(default_connection.pool.get_stats()) if pooled else 0
    a = await connect(alice)
    b = await connect(bob)
    await join(a, room.id)
    await join(b, room.id)
    bob_hears = asyncio.create_task(receive_type(b, "message"))
    await asyncio.sleep(0.05)  # bob's communicator is now waiting
    await a.send_json_to({"type": "send", "room": room.id, "body": "hi", "client_id": "c1"})
    await bob_hears
    await receive_type(a, "message")
    bob_hears = asyncio.create_task(b.receive_nothing(timeout=1))
    await a.disconnect()  # leaving the site writes last_seen
    await bob_hears
    await b.disconnect()

    in_workers = [
        (thread.name, wrapper)
        for thread, wrapper in opened
        if thread is not threading.main_thread() and not _asgiref_sync_thread(thread)
    ]
    assert in_workers, "the socket did database work in worker threads"
    still_open = [name for name, wrapper in in_workers if wrapper.connection is not None]
    assert still_open == []
    if pooled:
        # asgiref's sync thread may keep the one connection it used (see above). On a
        # busy machine a clean-up step may still hold one for a moment after the
        # communicator stopped waiting: returned soon is returned, lost is never.
        for _ in range(50):
            stats = default_connection.pool.get_stats()
            if _in_use(stats) <= before + 1:
                break
            await asyncio.sleep(0.1)
        assert _in_use(stats) <= before + 1, (before, stats)


def _in_use(stats: dict) -> int:
    return stats.get("pool_size", 0) - stats.get("pool_available", 0)
