"""How messages and rooms look in the terminal. Every piece of server text goes
through terminal_safe: nothing a user wrote acts on the terminal."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chatclient.terminal import terminal_safe


def message_line(message: dict[str, Any]) -> str:
    """`[HH:MM] author: body` in local time. A body's extra lines are indented under
    it; actions read `* alice waves`, system notices `* bob joined`."""
    when = datetime.fromisoformat(message["created_at"]).astimezone().strftime("%H:%M")
    body = "(message removed)" if message.get("deleted") else message["body"]
    body = terminal_safe(str(body)).replace("\n", "\n        ")
    if message.get("kind") == "system" or message.get("author") is None:
        return f"[{when}] * {body}"
    author = terminal_safe(str(message["author"]), keep_newlines=False)
    if message.get("kind") == "action":
        return f"[{when}] * {author} {body}"
    return f"[{when}] {author}: {body}"


def room_line(room: dict[str, Any]) -> str:
    label = room["kind"]
    if room.get("members") and room["kind"] != "public":
        label += ": " + ", ".join(room["members"])
    return terminal_safe(f"{room['id']:>6}  {room['name']}  ({label})", keep_newlines=False)
