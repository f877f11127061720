"""What one socket costs the database: a Bearer connect and a join of a room.

Counts every SQL statement of the whole connect+join, in whatever thread it runs
(the realtime code runs its database work in the event loop's thread pool, where
Django's CaptureQueriesContext on the test's own connection does not see it), and the
database connections it opens. docs/performance.md ("Connect and join") explains the
budget; a new statement on this path costs every socket of a reconnect storm."""

from __future__ import annotations

import re
import threading

import pytest
from django.db.backends.signals import connection_created
from django.db.backends.utils import CursorWrapper

from rooms import services as room_services
from rooms.models import Membership
from tests.conftest import connect, join, receive_type

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def statements(monkeypatch):
    """Every SQL statement run (any thread), and every connection opened."""
    lock = threading.Lock()
    seen: dict[str, list] = {"sql": [], "connections": []}
    original = CursorWrapper._execute

    def counting(self, sql, params, *ignored):
        with lock:
            seen["sql"].append(sql)
        return original(self, sql, params, *ignored)

    def opened(sender, connection, **kwargs):
        with lock:
            seen["connections"].append(connection)

    monkeypatch.setattr(CursorWrapper, "_execute", counting)
    connection_created.connect(opened)
    yield seen
    connection_created.disconnect(opened)


def _writes(sql: list[str]) -> list[str]:
    return [s for s in sql if s.lstrip().upper().startswith(("UPDATE", "INSERT", "DELETE"))]


def _kinds(sql: list[str]) -> list[str]:
    """Each statement as "UPDATE accounts_apitoken" or, naming every table a SELECT
    reads, "SELECT rooms_room+rooms_membership"."""
    out = []
    for statement in sql:
        verb, rest = statement.split(None, 1)
        if verb.upper() == "SELECT":
            table = "+".join(re.findall(r'(?:FROM|JOIN) "([^"]+)"', rest))
        else:
            table = rest.split('"', 2)[1]
        out.append(f"{verb.upper()} {table}")
    return out


async def _connect_and_join(user, room_id):
    communicator = await connect(user)  # makes the user a fresh token first
    frame = await join(communicator, room_id)
    # Frames are handled one at a time: the pong comes once the join's settle is done.
    await communicator.send_json_to({"type": "ping"})
    await receive_type(communicator, "pong")
    return communicator, frame


async def test_a_members_connect_and_join_of_an_empty_room(statements, bob, room):
    """Bearer connect + join of a room with no message yet: read the token (and stamp
    its first use), the membership with its room, then the settle read. No history query
    (the room has none), no read-position write (nothing to move), no session read
    (a token socket never uses the cookie)."""
    from channels.db import database_sync_to_async

    await database_sync_to_async(room_services.room_join)(room=room, user=bob)
    statements["sql"].clear()
    statements["connections"].clear()
    communicator, frame = await _connect_and_join(bob, room.pk)
    assert frame["messages"] == [] and frame["last_seq"] == 0
    assert frame["online"] == ["bob"]
    kinds = _kinds(statements["sql"])
    assert kinds == [
        "INSERT accounts_apitoken",  # the test's token
        "SELECT accounts_user+accounts_apitoken",  # user and token, one query
        "UPDATE accounts_apitoken",  # last_used, at most once a minute
        "SELECT rooms_room+rooms_membership",  # the membership with its room (no ban)
        "SELECT rooms_room",  # settle: anything committed since (the last seq)
    ], kinds
    await communicator.disconnect()


async def test_a_join_writes_the_read_position_only_when_it_moves(statements, alice, bob, room):
    from channels.db import database_sync_to_async

    await database_sync_to_async(room_services.room_join)(room=room, user=bob)
    await database_sync_to_async(room_services.message_post)(room=room, author=alice, body="hi")
    communicator, frame = await _connect_and_join(bob, room.pk)
    assert [m["body"] for m in frame["messages"]] == ["hi"]
    assert any("rooms_membership" in s and "last_read_seq" in s for s in _writes(statements["sql"]))
    await communicator.disconnect()
    statements["sql"].clear()
    communicator, frame = await _connect_and_join(bob, room.pk)  # read up to date already
    assert [m["body"] for m in frame["messages"]] == ["hi"]
    assert not any("rooms_membership" in s for s in _writes(statements["sql"]))
    membership = await database_sync_to_async(
        lambda: Membership.objects.get(room=room, user=bob).last_read_seq
    )()
    assert membership == 1
    await communicator.disconnect()
