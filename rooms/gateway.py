"""The TCP gateway: chat rooms for line clients (netcat, telnet, scripts).

One connection is one user in one room. The first line is JSON,
`{"token": "...", "room": id or "public room name"}` (add `"json": true` for the
program mode); after it every line the client sends is a message, and every message in
the room arrives as one line, `[HH:MM] author: body`. docs/clients.md is the protocol.

Thin like the socket consumer: it authenticates with accounts.services, enters and
posts through rooms.services, reads through rooms.selectors, and hears the room on
the channel layer, so line clients and browsers share rooms. Its one piece of logic is
the consumer's ordering rule: remember the last seq delivered, drop what was already
delivered, and fill any gap from the database first, so each message arrives once and
in order even if the channel layer loses or reorders an event.

Everything a client can make grow is bounded: the first line must come within
FIRST_LINE_TIMEOUT, a line is at most `line_max_bytes`, and a client that does not read
has at most `queue_lines` lines waiting for it before it is dropped; the server and
the other clients never wait for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.db import DatabaseError, InterfaceError

from accounts import services as account_services
from accounts.models import User
from rooms import events, presence, selectors, services, wire
from rooms.errors import ChatError, InvalidInput, RateLimitedError, RoomNotFound
from rooms.models import Room

log = logging.getLogger(__name__)

# A 4,000-character body is at most 16,000 bytes of UTF-8; the rest is for JSON mode.
LINE_MAX_BYTES = 16 * 1024
QUEUE_LINES = 256
MAX_CLIENTS = 1000
FIRST_LINE_TIMEOUT = 30.0
# How long a replay (history, or everything after `after`) waits for a client to make
# room in its queue; live messages never wait: a full queue drops the client at once.
REPLAY_WAIT = 30.0
HISTORY_DEFAULT = 20
REPLAY_BATCH = 500
READ_CHUNK = 64 * 1024

FIRST_LINE_HELP = 'The first line must be JSON: {"token": "...", "room": id or "name"}.'
UNAUTHORIZED = "That token is not valid."


def in_thread(function):
    """Run ORM code off the event loop. Not thread-sensitive: one slow query (or a
    SQLite write lock) must not queue every other client behind it."""
    return database_sync_to_async(function, thread_sensitive=False)


@in_thread
def _authenticate(token: str) -> User | None:
    return account_services.token_authenticate(secret=token)


@in_thread
def _resolve_room(room: int | str) -> int:
    if isinstance(room, int):
        return room
    return selectors.public_room_id_by_name(name=room)


@in_thread
def _enter(
    user: User, room_id: int, after: int | None, history: int
) -> tuple[Room, list[dict[str, Any]], bool]:
    """What a socket's join does: enter the room (joining a public one) and read either
    the messages after `after` (a first batch; has_more says if there are more) or the
    newest `history` messages."""
    room = services.room_enter(user=user, room_id=room_id)
    if after is not None:
        rows, has_more = selectors.messages_page(room=room, after=after, limit=REPLAY_BATCH)
    elif history:
        rows, has_more = selectors.messages_page(room=room, limit=history)
        has_more = False  # older history is read over the API
    else:
        rows, has_more = [], False
    return room, [wire.message_dict(m) for m in rows], has_more


@in_thread
def _messages_between(room_id: int, after: int, up_to: int) -> list[dict[str, Any]]:
    return [
        wire.message_dict(m)
        for m in selectors.messages_between(room_id=room_id, after=after, up_to=up_to)
    ]


@in_thread
def _post(user: User, room_id: int, body: Any, client_id: Any) -> tuple[dict[str, Any], bool]:
    room = selectors.room_get_visible(user=user, room_id=room_id)
    message, created = services.message_post(
        room=room, author=user, body=body, client_id=client_id
    )
    return wire.message_dict(message), created


class LineTooLong:
    """Stands in for a line longer than the limit; its bytes were discarded."""


TOO_LONG = LineTooLong()


async def read_lines(reader: asyncio.StreamReader, limit: int) -> AsyncIterator[bytes | LineTooLong]:
    """Lines without their line ending. A line over `limit` bytes is discarded as it
    arrives (never held in memory) and yields TOO_LONG once; the next line is read
    normally. Unlike StreamReader.readline, the tail of an over-long line is never
    mistaken for a line of its own."""
    buffer = bytearray()
    discarding = False
    while True:
        chunk = await reader.read(READ_CHUNK)
        if not chunk:
            if buffer and not discarding:
                yield bytes(buffer).rstrip(b"\r")
            return
        buffer += chunk
        while True:
            end = buffer.find(b"\n")
            if end < 0:
                if len(buffer) > limit + 1:  # + 1 for a \r before the \n still to come
                    if not discarding:
                        discarding = True
                        yield TOO_LONG
                    buffer.clear()
                break
            line = bytes(buffer[:end]).rstrip(b"\r")
            del buffer[: end + 1]
            if discarding:
                discarding = False
            elif len(line) > limit:
                yield TOO_LONG
            else:
                yield line


def text_line(message: dict[str, Any]) -> str:
    """`[HH:MM] author: body` (UTC), one line: newlines in a body become " ↵ "."""
    when = datetime.fromisoformat(message["created_at"]).strftime("%H:%M")
    body = "(message removed)" if message["deleted"] else message["body"]
    body = body.replace("\n", " \u21b5 ")
    if message["kind"] == "system" or message["author"] is None:
        return f"[{when}] * {body}"
    if message["kind"] == "action":
        return f"[{when}] * {message['author']} {body}"
    return f"[{when}] {message['author']}: {body}"


class ClientGone(Exception):
    """The client is being disconnected; `reason` is logged."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class FirstLineError(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def parse_first_line(line: bytes) -> dict[str, Any]:
    """The checked fields of the first line, or FirstLineError."""
    try:
        data = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        raise FirstLineError("invalid", FIRST_LINE_HELP) from None
    if not isinstance(data, dict):
        raise FirstLineError("invalid", FIRST_LINE_HELP)
    json_mode = data.get("json", False)
    if not isinstance(json_mode, bool):
        raise FirstLineError("invalid", '"json" must be true or false.')
    token = data.get("token")
    if not isinstance(token, str) or not token:
        raise FirstLineError("invalid", f'"token" is missing. {FIRST_LINE_HELP}')
    room = data.get("room")
    if isinstance(room, bool) or not isinstance(room, int | str) or room == "":
        raise FirstLineError("invalid", f'"room" must be a room id or a public room name.')
    fields = {"token": token, "room": room, "json": json_mode}
    for name, maximum in (("after", None), ("history", selectors.clamp_limit(10**9))):
        value = data.get(name)
        if value is None:
            fields[name] = None
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise FirstLineError("invalid", f'"{name}" must be a non-negative integer.')
        fields[name] = value if maximum is None else min(value, maximum)
    return fields


