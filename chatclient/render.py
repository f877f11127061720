"""How messages and rooms look in the terminal."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def message_line(message: dict[str, Any]) -> str:
    """`[HH:MM] author: body` in local time. A body's extra lines are indented under
    it; actions read `* alice waves`, system notices `* bob joined`."""
    when = datetime.fromisoformat(message["created_at"]).astimezone().strftime("%H:%M")
    body = "(message removed)" if message.get("deleted") else message["body"]
    body = body.replace("\n", "\n        ")
    if message.get("kind") == "system" or message.get("author") is None:
        return f"[{when}] * {body}"
    if message.get("kind") == "action":
        return f"[{when}] * {message['author']} {body}"
    return f"[{when}] {message['author']}: {body}"


def room_line(room: dict[str, Any]) -> str:
    label = room["kind"]
    if room.get("members") and room["kind"] != "public":
        label += ": " + ", ".join(room["members"])
    return f"{room['id']:>6}  {room['name']}  ({label})"
