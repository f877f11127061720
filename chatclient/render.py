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
    body = "(message removed)" if message.get("deleted") else _with_files(message)
    body = terminal_safe(str(body)).replace("\n", "\n        ")
    if message.get("kind") == "system" or message.get("author") is None:
        return f"[{when}] * {body}"
    author = terminal_safe(str(message["author"]), keep_newlines=False)
    if message.get("kind") == "action":
        return f"[{when}] * {author} {body}"
    return f"[{when}] {author}: {body}"


def _with_files(message: dict[str, Any]) -> str:
    """The body, then "[file: name (size) url]" per attachment (the URL is the site's)."""
    parts = [str(message["body"])] if message["body"] else []
    for item in message.get("attachments") or []:
        if isinstance(item, dict):
            size = item.get("size") or 0
            shown = f"{size / 1024:.0f} KB" if size >= 1024 else f"{size} bytes"
            parts.append(f"[file: {item.get('name')} ({shown}) {item.get('url')}]")
    return " ".join(parts)


def whisper_line(frame: dict[str, Any], me: str | None) -> str:
    """`[HH:MM] *bob whispers to you*: text`, or `*you whisper to bob*` for its sender,
    in local time; extra lines indented as in message_line."""
    when = datetime.fromisoformat(frame["created_at"]).astimezone().strftime("%H:%M")
    text = terminal_safe(str(frame.get("text", ""))).replace("\n", "\n        ")
    sender, to = str(frame.get("from", "")), str(frame.get("to", ""))
    who = f"you whisper to {to}" if sender == me else f"{sender} whispers to you"
    return f"[{when}] *{terminal_safe(who, keep_newlines=False)}*: {text}"


def room_line(room: dict[str, Any]) -> str:
    label = room["kind"]
    if room.get("members") and room["kind"] != "public":
        label += ": " + ", ".join(room["members"])
    return terminal_safe(f"{room['id']:>6}  {room['name']}  ({label})", keep_newlines=False)
