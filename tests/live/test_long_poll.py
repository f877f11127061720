"""Long polling at scale against a real daphne worker and Redis: many waiting
requests hold no thread each, and one message wakes them all at once."""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import urlparse

import pytest

from tests.live.conftest import log_problems

pytestmark = [pytest.mark.live, pytest.mark.redis]

WAITERS = 500


async def _http(host: str, port: int, method: str, path: str, token: str, body=None):
    """One HTTP/1.1 request on its own connection; returns (status, json)."""
    reader, writer = await asyncio.open_connection(host, port)
    payload = json.dumps(body).encode() if body is not None else b""
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: Bearer {token}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    )
    writer.write(head.encode() + payload)
    await writer.drain()
    raw = await reader.read()
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    try:
        return status, json.loads(body or b"null")
    except ValueError:
        raise AssertionError(f"{method} {path}: {status}, not JSON: {raw[:400]!r}") from None


async def test_one_message_wakes_hundreds_of_waiting_long_polls(live_stack, make_people, make_room):
    (alice,) = await make_people("alice")
    room_id = await make_room("alice")
    url = urlparse(live_stack.urls[0])
    path = f"/api/rooms/{room_id}/messages?after=0&wait=25"

    waiting = [
        asyncio.create_task(_http(url.hostname, url.port, "GET", path, alice.token))
        for _ in range(WAITERS)
    ]
    await asyncio.sleep(3)  # let them all arrive and wait
    assert not any(task.done() for task in waiting), "a long poll answered with nothing new"

    posted_at = time.monotonic()
    status, message = await _http(
        url.hostname,
        url.port,
        "POST",
        f"/api/rooms/{room_id}/messages",
        alice.token,
        {"body": "wake up", "client_id": "w1"},
    )
    assert status == 201
    async with asyncio.timeout(24):
        answers = await asyncio.gather(*waiting)
    woke_in = time.monotonic() - posted_at
    print(f"{WAITERS} long polls woken in {woke_in:.2f} s")

    assert all(status == 200 for status, _ in answers)
    assert all([m["seq"] for m in page["messages"]] == [message["seq"]] for _, page in answers)
    # Each answer holds the message, so each was woken by it, not by its 25 s timeout
    # (which answers an empty list). How fast is the benchmark's business.
    assert log_problems(live_stack) == []
