"""The gateway's line protocol: reading lines within a limit, the first line, and how a
message looks as a line. Pure functions, no I/O beyond the reader they are given."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from django.conf import settings

from chatclient.terminal import terminal_safe
from rooms import input_checks
from rooms.file_text import with_files

# A 4,000-character body is at most 16,000 bytes of UTF-8; the rest is for JSON mode.
LINE_MAX_BYTES = 16 * 1024
HISTORY_DEFAULT = 20
READ_CHUNK = 64 * 1024
FIRST_LINE_HELP = (
    'The first line must be JSON: {"token": "...", "room": id or "name"} '
    '(or "ticket" from POST /api/tickets instead of "token", or "name" to join as a '
    "guest where the site and the room allow guests)."
)


class LineTooLong:
    """Stands in for a line longer than the limit; its bytes were discarded."""


TOO_LONG = LineTooLong()


def _first_object_end(buffer: bytearray) -> int:
    """The index just past a complete JSON object at the start of `buffer` (after
    optional whitespace), or -1 if the buffer does not start with one yet. Some old
    clients send their join object with no newline after it."""
    start = 0
    while start < len(buffer) and buffer[start] in b" \t\r\n":
        start += 1
    if start == len(buffer) or buffer[start] != ord("{"):
        return -1
    depth = 0
    in_string = escaped = False
    for index in range(start, len(buffer)):
        byte = buffer[index]
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in b"{[":
            depth += 1
        elif byte in b"}]":
            depth -= 1
            if depth == 0:
                return index + 1
        elif byte == 0x0A:
            return -1  # a newline outside a string ends a line the usual way
    return -1


async def read_lines(
    reader: asyncio.StreamReader, limit: int
) -> AsyncIterator[bytes | LineTooLong]:
    """Lines without their line ending. The first "line" may also end with the closing
    brace of a JSON object (the join of clients that send no newline after it). A line
    over `limit` bytes is discarded as it arrives (never held in memory) and yields
    TOO_LONG once; the next line is read normally. Unlike StreamReader.readline, the
    tail of an over-long line is never mistaken for a line of its own."""
    buffer = bytearray()
    discarding = False
    first = True
    while True:
        chunk = await reader.read(READ_CHUNK)
        if not chunk:
            if buffer and not discarding:
                yield bytes(buffer).rstrip(b"\r")
            return
        buffer += chunk
        while True:
            if first and not discarding:
                end = _first_object_end(buffer)
                if 0 <= end <= limit:
                    first = False
                    line = bytes(buffer[:end]).strip()
                    del buffer[:end]
                    # The newline that usually follows the object belongs to it.
                    if buffer[:2] == b"\r\n":
                        del buffer[:2]
                    elif buffer[:1] == b"\n":
                        del buffer[:1]
                    yield line
                    continue
            end = buffer.find(b"\n")
            if end < 0:
                if len(buffer) > limit + 1:  # + 1 for a \r before the \n still to come
                    if not discarding:
                        discarding = True
                        yield TOO_LONG
                    buffer.clear()
                break
            first = False
            line = bytes(buffer[:end]).rstrip(b"\r")
            del buffer[: end + 1]
            if discarding:
                discarding = False
            elif len(line) > limit:
                yield TOO_LONG
            else:
                yield line


def text_line(message: dict[str, Any]) -> str:
    """`[HH:MM] author: body` (UTC), one line: newlines in a body become " ↵ ", and
    every other control character (ESC, CR, C1, bidi overrides) a visible U+FFFD, so
    stored text never acts on the reader's terminal (chatclient.terminal)."""
    when = datetime.fromisoformat(message["created_at"]).strftime("%H:%M")
    body = "(message removed)" if message["deleted"] else with_files(message["body"], message)
    body = terminal_safe(body.replace("\n", " \u21b5 "), keep_newlines=False)
    if message["kind"] == "system" or message["author"] is None:
        return f"[{when}] * {body}"
    author = terminal_safe(message["author"], keep_newlines=False)
    if message["kind"] == "action":
        return f"[{when}] * {author} {body}"
    return f"[{when}] {author}: {body}"


def whisper_line(frame: dict[str, Any], me: str) -> str:
    """`[HH:MM] *bob whispers to you*: text` for the one it was sent to, `[HH:MM] *you
    whisper to bob*: text` for its sender (UTC), made terminal-safe like text_line."""
    when = datetime.fromisoformat(frame["created_at"]).strftime("%H:%M")
    text = terminal_safe(str(frame["text"]).replace("\n", " \u21b5 "), keep_newlines=False)
    if frame["from"] == me:
        who = f"you whisper to {frame['to']}"
    else:
        who = f"{frame['from']} whispers to you"
    return f"[{when}] *{terminal_safe(who, keep_newlines=False)}*: {text}"


class FirstLineError(Exception):
    """The first line cannot be used; `code` and `detail` go into the error line."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def parse_first_line(line: bytes) -> dict[str, Any]:
    """The checked fields of the first line, or FirstLineError."""
    try:
        data = input_checks.loads(line)
    except input_checks.UnsafeInput as exc:
        detail = FIRST_LINE_HELP if exc.args[0] == input_checks.NOT_JSON else f"Refused: {exc}"
        raise FirstLineError("invalid", detail) from None
    if not isinstance(data, dict):
        raise FirstLineError("invalid", FIRST_LINE_HELP)
    json_mode = data.get("json", False)
    if not isinstance(json_mode, bool):
        raise FirstLineError("invalid", '"json" must be true or false.')
    # A ticket (POST /api/tickets, single use) may stand in for the token; a name alone
    # asks to join as a guest (rooms/guests.py), the old servers' way.
    token, ticket, name = data.get("token"), data.get("ticket"), data.get("name")
    if sum(value is not None for value in (token, ticket, name)) > 1:
        raise FirstLineError("invalid", 'Give one of "token", "ticket" or "name".')
    if ticket is not None:
        if not isinstance(ticket, str) or not ticket:
            raise FirstLineError("invalid", '"ticket" must be a ticket from POST /api/tickets.')
    elif name is not None:
        if not isinstance(name, str) or not name.strip():
            raise FirstLineError("invalid", '"name" must be the name to chat under.')
    elif not isinstance(token, str) or not token:
        raise FirstLineError("invalid", f'"token" is missing. {FIRST_LINE_HELP}')
    room = data.get("room")
    if isinstance(room, bool) or not isinstance(room, int | str) or room == "":
        raise FirstLineError("invalid", '"room" must be a room id or a public room name.')
    fields: dict[str, Any] = {
        "token": token,
        "ticket": ticket,
        "name": name,
        "room": room,
        "json": json_mode,
    }
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
