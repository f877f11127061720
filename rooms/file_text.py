"""Message attachments as line clients read them (the TCP gateway, the old clients'
socket): "[file: name (size) url]" after the body. No Django here, so the protocol
modules that import it stay importable on their own."""

from __future__ import annotations

from typing import Any


def human_size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    if size >= 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size} bytes"


def files_text(items: list[dict[str, Any]]) -> str:
    """One "[file: name (size) url]" per attachment of a wire Message (its
    `attachments`), for line clients: the TCP gateway, the old clients' socket. The
    URL is the site's path of the permission-checked file view."""
    return " ".join(
        f"[file: {item['name']} ({human_size(item['size'])}) {item['url']}]" for item in items
    )


def with_files(body: str, message: dict[str, Any]) -> str:
    """A wire Message's body followed by its files_text (the body alone when none)."""
    files = files_text(message.get("attachments") or [])
    return f"{body} {files}" if body and files else body or files
