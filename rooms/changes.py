"""Changing messages that already exist: edits, deletions, reactions, pins.

Each change takes the room's next `rev` under the room's row lock and stamps it on the
message, so a client that was away asks for "changed after rev R" and learns of every
edit, deletion, reaction and pin once, in the order they happened.
"""

from __future__ import annotations

import emoji as emoji_data
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from rooms import access, attachments, threads
from rooms.errors import Forbidden, InvalidInput
from rooms.models import Message, MessageRevision, Reaction, Room
from rooms.realtime import events
from rooms.services import clean_body, throttle

EMOJI_MAX = 32


def _lock_room(room_id: int) -> Room:
    """The room's row, locked until the transaction ends (on SQLite the IMMEDIATE
    transaction already serialises writers)."""
    return Room.objects.select_for_update().get(pk=room_id)


def _bump_rev(message: Message, locked: Room | None = None) -> None:
    if locked is None:
        locked = _lock_room(message.room_id)
    locked.last_rev += 1
    locked.save(update_fields=["last_rev"])
    message.rev = locked.last_rev


def message_edit(*, message: Message, by: User, body: str) -> Message:
    """The author edits within the edit window, under the room's write rules
    (rooms.access); the old body is kept as a revision."""
    body = clean_body(body)
    access.check_can_edit(user=by, message=message)
    throttle(f"edits:{by.pk}", limit=settings.CHAT_EDITS_PER_MINUTE, per_seconds=60)
    if body == message.body:
        return message
    with transaction.atomic():
        _bump_rev(message)
        MessageRevision.objects.create(message=message, body=message.body)
        message.body = body
        message.edited_at = timezone.now()
        message.save(update_fields=["body", "edited_at", "rev"])
        events.message_changed(message)
    return message


def message_delete(*, message: Message, by: User) -> Message:
    """The author (within the edit window) or a moderator (any time). The row stays,
    flagged, with who and when; every answer shows it removed, without its body."""
    access.check_can_delete(user=by, message=message)
    if message.deleted:
        return message
    with transaction.atomic():
        locked = _lock_room(message.room_id)
        _bump_rev(message, locked)
        message.deleted = True
        message.deleted_at = timezone.now()
        message.deleted_by = by
        # A removed message leaves the room's pins with it.
        message.pinned_at = None
        message.pinned_by = None
        # Its files go too: rows now, stored bytes after commit.
        attachments.message_files_remove(message)
        message.save(
            update_fields=[
                *("deleted", "deleted_at", "deleted_by", "pinned_at", "pinned_by", "rev"),
                "attachments",
            ]
        )
        events.message_changed(message)
        if message.reply_to_seq is not None:
            threads.reply_removed(reply=message, locked=locked)  # the parent counts one less
    return message


def clean_emoji(value: object) -> str:
    """One emoji (a ZWJ sequence or a flag counts as one), as the Unicode emoji data
    (the `emoji` package) knows them; anything else is refused."""
    if not isinstance(value, str):
        raise InvalidInput("emoji must be a string.")
    value = value.strip()
    if not 1 <= len(value) <= EMOJI_MAX or not emoji_data.is_emoji(value):
        raise InvalidInput("emoji must be a single emoji.")
    return value


def reaction_set(*, message: Message, by: User, emoji: str, on: bool) -> Message:
    """Add (`on`) or remove the user's reaction. Members only (public rooms: anyone who
    can read, which makes them a member as posting does)."""
    emoji = clean_emoji(emoji)
    access.check_can_react(user=by, message=message)
    mine = Reaction.objects.filter(message=message, user=by, emoji=emoji)
    if mine.exists() == on:
        return message  # nothing to change
    throttle(f"reactions:{by.pk}", limit=settings.CHAT_REACTIONS_PER_MINUTE, per_seconds=60)
    limit = settings.CHAT_REACTIONS_PER_MESSAGE
    if on and emoji not in message.reactions and len(message.reactions) >= limit:
        raise InvalidInput(f"A message takes at most {limit} different reactions.")
    with transaction.atomic():
        _bump_rev(message)  # the room lock also serialises reaction writes
        if on:
            Reaction.objects.get_or_create(message=message, user=by, emoji=emoji)
        else:
            mine.delete()
        summary: dict[str, list[str]] = {}
        for name, username in (
            Reaction.objects.filter(message=message)
            .order_by("created", "id")
            .values_list("emoji", "user__username")
        ):
            summary.setdefault(name, []).append(username)
        message.reactions = summary
        message.save(update_fields=["reactions", "rev"])
        events.message_changed(message)
    return message


def message_pin_set(*, message: Message, by: User, pinned: bool) -> bool:
    """Pin (`pinned`) or unpin a message, under rooms.access.check_can_pin. Pinning
    what is pinned, or unpinning what is not, changes nothing and broadcasts nothing.
    Otherwise the message takes the room's next rev (so `changed_after` carries it) and
    every socket in the room gets it as `message_updated`. A room holds at most
    CHAT_PINS_PER_ROOM pins, counted under the room's row lock so two pins at once
    cannot both take the last place. Returns whether anything changed."""
    access.check_can_pin(user=by, message=message, pin=pinned)
    if (message.pinned_at is not None) == pinned:
        return False
    throttle(f"pins:{by.pk}", limit=settings.CHAT_PINS_PER_MINUTE, per_seconds=60)
    limit = settings.CHAT_PINS_PER_ROOM
    with transaction.atomic():
        locked = _lock_room(message.room_id)  # pins change one at a time per room
        pinned_at, deleted = (
            Message.objects.filter(pk=message.pk).values_list("pinned_at", "deleted").get()
        )
        if pinned and deleted:  # deleted since it was read
            raise InvalidInput("A deleted message cannot be pinned.")
        # Another pin or unpin may have come first since the message was read.
        changed = (pinned_at is not None) != pinned
        if changed:
            if pinned:
                count = Message.objects.filter(
                    room_id=message.room_id, pinned_at__isnull=False
                ).count()
                if count >= limit:
                    raise InvalidInput(
                        f"This room already has {limit} pinned messages, the most it takes; "
                        "unpin one first."
                    )
            _bump_rev(message, locked)
            message.pinned_at = timezone.now() if pinned else None
            message.pinned_by = by if pinned else None
            message.save(update_fields=["pinned_at", "pinned_by", "rev"])
            events.message_changed(message)
    if not changed:
        message.refresh_from_db(fields=["pinned_at", "pinned_by", "deleted", "rev"])
    return changed


def revisions_for(*, message: Message, user: User) -> list[MessageRevision]:
    """Earlier bodies of an edited message, for the room's moderators."""
    if not access.can_moderate(user=user, room=message.room):
        raise Forbidden("Only moderators can read earlier versions.")
    return list(message.revisions.all())
