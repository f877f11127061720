"""A flood of connections that never sign in, from one address, cannot refuse others:
each address holds at most `pending_per_address` unsigned connections, and each has
a short deadline for its first line."""

from __future__ import annotations

import asyncio
import json

import pytest
from channels.db import database_sync_to_async

from rooms.realtime.gateway import Gateway
from tests.conftest import token_for

pytestmark = pytest.mark.django_db(transaction=True)


async def test_one_address_cannot_hold_more_than_its_pending_budget(room, alice):
    gateway = Gateway(max_clients=50, pending_per_address=5, first_line_timeout=1.0)
    _, port = await gateway.start("127.0.0.1", 0)
    silent = [await asyncio.open_connection("127.0.0.1", port) for _ in range(5)]
    try:
        # The sixth silent one from the same address is told why and closed at once.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        line = await asyncio.wait_for(reader.readline(), 3)
        assert line.startswith(b"! Too many connections from your address")
        writer.close()
        # The silent ones run out of time; then the address may connect again, and a
        # real client signs in.
        for silent_reader, _ in silent:
            assert b"No first line within 1 seconds" in await asyncio.wait_for(
                silent_reader.readline(), 5
            )
        token = await database_sync_to_async(token_for)(alice)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(json.dumps({"token": token, "room": room.id, "json": True}).encode() + b"\n")
        joined = json.loads(await asyncio.wait_for(reader.readline(), 5))
        assert joined["type"] == "joined"
        assert gateway.pending == {}  # signed in: no longer pending
        writer.close()
    finally:
        for _, silent_writer in silent:
            silent_writer.close()
        await gateway.stop()


async def test_signed_in_clients_do_not_use_the_pending_budget(room, alice):
    gateway = Gateway(pending_per_address=2)
    _, port = await gateway.start("127.0.0.1", 0)
    token = await database_sync_to_async(token_for)(alice)
    writers = []
    try:
        for _ in range(4):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writers.append(writer)
            writer.write(json.dumps({"token": token, "room": room.id, "json": True}).encode())
            joined = json.loads(await asyncio.wait_for(reader.readline(), 5))
            assert joined["type"] == "joined"
    finally:
        for writer in writers:
            writer.close()
        await gateway.stop()
