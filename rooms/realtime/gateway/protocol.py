"""The gateway's line protocol: reading lines within a limit, the first line, and how a
message looks as a line. Pure functions, no I/O beyond the reader they are given."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from django.conf import settings

# A 4,000-character body is at most 16,000 bytes of UTF-8; the rest is for JSON mode.
LINE_MAX_BYTES = 16 * 1024
HISTORY_DEFAULT = 20
READ_CHUNK = 64 * 1024
FIRST_LINE_HELP = 'The first line must be JSON: {"token": "...", "room": id or "name"}.'


class LineTooLong:
    """Stands in for a line longer than the limit; its bytes were discarded."""


TOO_LONG = LineTooLong()


async def read_lines(
    reader: asyncio.StreamReader, limit: int
) -> AsyncIterator[bytes | LineTooLong]:
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


class FirstLineError(Exception):
    """The first line cannot be used; `code` and `detail` go into the error line."""

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
        raise FirstLineError("invalid", '"room" must be a room id or a public room name.')
    fields: dict[str, Any] = {"token": token, "room": room, "json": json_mode}
    for name in ("after", "history"):
        value = data.get(name)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 0
        ):
            raise FirstLineError("invalid", f'"{name}" must be a non-negative integer.')
        fields[name] = value
    if fields["history"] is None:
        fields["history"] = HISTORY_DEFAULT
    fields["history"] = min(fields["history"], settings.CHAT_PAGE_MAX)
    return fields
