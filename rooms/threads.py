"""Threads: a message's replies, counted on the message itself.

A reply (a message with `reply_to_seq`) may be written in a thread only
(`thread_only`): it is stored and delivered in the room's stream like every message,
in seq order, so old clients see a plain reply; new clients show it in the thread
panel instead of the room's log. The message replied to (the parent) carries
`reply_count`, `last_reply_seq` and `last_reply_at`, kept here in the same transaction
as the reply that changes them, so a page of history shows them without a query.

Each change of a parent's counts takes the room's next `rev` for the parent (after
the reply's own) and is broadcast as `message_updated`, so a client that was away
learns of it through `changed_after`, once, in order: the reply, then its parent.
Only replies pay for this; a message that replies to nothing costs no extra query.
"""

from __future__ import annotations

from django.db.models import F

from rooms import selectors
from rooms.errors import InvalidInput
from rooms.models import Message, Room
from rooms.realtime import events


def clean_thread_only(value: object, *, reply_to: int | None) -> bool:
    """Absent (None) is False; otherwise exactly true or false, and true only for a
    reply (a message shown only in a thread needs a thread to be shown in)."""
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidInput("thread_only must be true or false.")
    if value and reply_to is None:
        raise InvalidInput("thread_only needs reply_to: only a reply can stay in its thread.")
    return value


def revs_for_insert(*, reply_to: int | None) -> int:
    """How many revs posting a message takes: its own, and its parent's for a reply."""
    return 1 if reply_to is None else 2


def _broadcast_parent(*, room_id: int, seq: int) -> None:
    parent = Message.objects.select_related(*selectors.MESSAGE_RELATED).get(
        room_id=room_id, seq=seq
    )
    events.message_changed(parent)


def reply_added(*, reply: Message, parent_rev: int) -> None:
    """Count a new reply on its parent, which takes `parent_rev` (taken with the reply's
    seq, see revs_for_insert). Runs inside the posting transaction, under the room's
    row lock; one UPDATE, then the parent is read once to broadcast it."""
    assert reply.reply_to_seq is not None
    Message.objects.filter(room_id=reply.room_id, seq=reply.reply_to_seq).update(
        reply_count=F("reply_count") + 1,
        last_reply_seq=reply.seq,
        last_reply_at=reply.created,
        rev=parent_rev,
    )
    _broadcast_parent(room_id=reply.room_id, seq=reply.reply_to_seq)


def reply_removed(*, reply: Message, locked: Room) -> None:
    """A reply was deleted: count its parent's replies again (deleted ones left out)
    and stamp the parent with the room's next rev. Runs inside the deleting
    transaction, with the room row `locked` (rooms.changes)."""
    assert reply.reply_to_seq is not None
    locked.last_rev += 1
    locked.save(update_fields=["last_rev"])
    replies = Message.objects.filter(
        room_id=reply.room_id, reply_to_seq=reply.reply_to_seq, deleted=False
    )
    newest = replies.order_by("-seq").values_list("seq", "created").first()
    Message.objects.filter(room_id=reply.room_id, seq=reply.reply_to_seq).update(
        reply_count=replies.count(),
        last_reply_seq=newest[0] if newest else None,
        last_reply_at=newest[1] if newest else None,
        rev=locked.last_rev,
    )
    _broadcast_parent(room_id=reply.room_id, seq=reply.reply_to_seq)
