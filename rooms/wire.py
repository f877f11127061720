"""The shapes of rooms and messages on the wire (API answers and socket frames).

One place builds them, so the API, the socket and the long poll agree to the byte.
"""

from __future__ import annotations

import json
from typing import Any

from rooms import attachments
from rooms.formatting import render
from rooms.models import Message, Room


def message_dict(message: Message) -> dict[str, Any]:
    """A Message as the contract describes it. Expects `author` and `pinned_by` to be
    loaded (select_related, see rooms.selectors.MESSAGE_RELATED) so a page of messages
    costs one query."""
    author = message.author
    return {
        "id": message.id,
        "room": message.room_id,
        "seq": message.seq,
        "rev": message.rev,
        "kind": message.kind,
        "author": author.username if author is not None else None,
        "author_name": author.shown_name if author is not None else None,
        "body": "" if message.deleted else message.body,
        # The safe Markdown rendering pages show; `body` stays the plain text.
        "html": "" if message.deleted else render(message.body),
        "created_at": message.created.isoformat(),
        "client_id": message.client_id,
        "edited_at": message.edited_at.isoformat() if message.edited_at else None,
        "deleted": message.deleted,
        "reactions": {} if message.deleted else message.reactions,
        # The seq of the message this one replies to in the same room, or null.
        "reply_to": message.reply_to_seq,
        # On the room's "Pinned" list: since when and by whom (a deleted message never is).
        "pinned": message.pinned_at is not None,
        "pinned_at": message.pinned_at.isoformat() if message.pinned_at else None,
        "pinned_by": _pinned_by(message),
        # Files sent with the message (rooms/attachments.py); empty when none or deleted.
        "attachments": attachments.wire_list(message),
        # Threads (rooms/threads.py): a reply shown only in its thread; on a parent, its
        # replies (deleted ones not counted) and the newest one's seq and time.
        "thread_only": message.thread_only,
        "reply_count": message.reply_count,
        "last_reply_seq": message.last_reply_seq,
        "last_reply_at": message.last_reply_at.isoformat() if message.last_reply_at else None,
    }


def _pinned_by(message: Message) -> str | None:
    # Read only for a pinned message, so an unpinned one costs no query even where the
    # pinner was not loaded with it (select_related("pinned_by") on history reads).
    if message.pinned_at is None or message.pinned_by_id is None:
        return None
    return message.pinned_by.username


def room_dict(room: Room, members: list[str] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": room.id,
        "name": room.name,
        "kind": room.kind,
        "slug": room.slug,
        "topic": room.topic,
        "last_seq": room.last_seq,
        "archived": room.is_archived,
        "locked": room.is_locked,
        "temporary": room.is_temporary,
        "announce_joins": room.announce_joins,
        "open_to_guests": room.open_to_guests,
    }
    if members is not None:
        data["members"] = members
    return data


def frame(frame_type: str, **fields: Any) -> str:
    return json.dumps({"type": frame_type, **fields}, separators=(",", ":"))
