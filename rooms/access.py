"""Who may do what in a room: the one module that knows roles, mutes, bans, locks,
archives and membership. Every door (pages, API, socket, gateway, long poll, admin)
reaches a room or a message through `room_get_visible` / `message_get_visible`, and
every service that writes asks one `check_can_*` function before it changes anything.

The decisions, for a signed-in user and a room:

| action | refused when |
| --- | --- |
| read (history, long poll, join, members, report, mark read) | a private room they are not in (404, like a missing room); a public room they are banned from (403 `banned`, with the reason) |
| post, edit, react | also: the room is archived (`forbidden`), locked and they are not a moderator (`locked`), they are muted (`muted`) |
| edit | also: not the author, the message deleted, or older than the edit window |
| delete | the author: the post rules and the edit window; a moderator: any time, even locked (archived: site staff only) |
| moderate | not an owner or moderator of the room (site staff: any public room) |
| fetch a file or thumbnail | whatever refuses reading the room's history, and then always 404 (a ban too, so a file's existence is never confirmed); a file not sent with a message, or of a deleted message |
| pin, unpin | a public room: not an owner or moderator (site staff: as moderate); any room: the post rules (archived, locked, muted); pinning: a deleted message or a system line |

A guest (rooms/guests.py) reads and writes only public rooms open to guests (any other
room is a 404 to them, like a private room) and is refused, with `forbidden`, whatever
needs an account: private 1:1 chats, conferences, invitations, whispers, new rooms and
name changes (`refuse_guest`).

Raising the errors here (rather than answering booleans) keeps every door's answer the
same: the API maps them to 4xx bodies, the socket to `error` frames.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef
from django.utils import timezone

from accounts.models import User
from rooms import selectors
from rooms.errors import (
    AttachmentNotFound,
    Banned,
    Forbidden,
    InvalidInput,
    Locked,
    MessageNotFound,
    Muted,
    RoomNotFound,
)
from rooms.models import Attachment, Membership, Message, Room, RoomBan

# --- reading ------------------------------------------------------------------------------


def room_get_visible(*, user: User, room_id: int) -> Room:
    """The room if `user` may read it. Missing and private-not-yours raise the same
    RoomNotFound, so ids cannot be probed; a ban raises Banned. One query for a
    public room (the ban is looked up with the room)."""
    _refuse_impossible_id(room_id)
    room = (
        Room.objects.filter(pk=room_id)
        .annotate(viewer_banned=Exists(RoomBan.objects.filter(room=OuterRef("pk"), user=user.pk)))
        .first()
    )
    if room is None:
        raise RoomNotFound()
    if room.is_private and not selectors.is_member(user=user, room=room):
        raise RoomNotFound()
    _refuse_guest_outside_guest_rooms(user, room)
    if room.viewer_banned:
        raise_banned(room=room, user=user)
    return room


def room_and_membership(*, user: User, room_id: int) -> tuple[Room, Membership | None]:
    """room_get_visible, and the user's membership (None: not a member). One query for a
    member: the membership with its room (a member is not banned: a ban ends the
    membership); otherwise room_get_visible's."""
    _refuse_impossible_id(room_id)
    membership = selectors.membership_with_room(room_id=room_id, user_id=user.pk)
    if membership is None:
        return room_get_visible(user=user, room_id=room_id), None
    room = membership.room
    _refuse_guest_outside_guest_rooms(user, room)
    room.viewer_banned = False
    return room, membership


def _refuse_impossible_id(room_id: int) -> None:
    """An id no room can have (a door that let a huge number through) is a missing
    room, not an overflow in the database driver (SQLite raises on ints >= 2**63)."""
    if isinstance(room_id, int) and not 0 < room_id < 2**63:
        raise RoomNotFound()


def _refuse_guest_outside_guest_rooms(user: User, room: Room) -> None:
    """A guest sees only public rooms open to guests; any other is a 404 to them."""
    if getattr(user, "is_guest", False) and (room.is_private or not room.open_to_guests):
        raise RoomNotFound()


def refuse_guest(user: User, what: str) -> None:
    """Forbidden for a guest: `what` needs an account."""
    if getattr(user, "is_guest", False):
        raise Forbidden(f"Guests cannot {what}; sign up for an account.")


def raise_banned(*, room: Room, user: User) -> None:
    reason = (
        RoomBan.objects.filter(room=room, user=user).values_list("reason", flat=True).first() or ""
    )
    detail = "You are banned from this room." + (f" Reason: {reason}" if reason else "")
    raise Banned(detail, reason=reason)


def room_get_exportable(*, user: User, room_id: int) -> Room:
    """A room whose whole history the user may download: its members and site staff
    (a visitor of a public room reads it page by page instead)."""
    room = room_get_visible(user=user, room_id=room_id)
    if not user.is_staff and not selectors.is_member(user=user, room=room):
        raise Forbidden("Only the room's members can export its history; join it first.")
    return room


def message_get_visible(*, user: User, message_id: int) -> Message:
    """The message if its room is readable by `user`; otherwise MessageNotFound (or
    Banned), the same for a missing message and one in a room they cannot see."""
    message = (
        Message.objects.select_related(*selectors.MESSAGE_RELATED, "room")
        .filter(pk=message_id)
        .first()
    )
    if message is None:
        raise MessageNotFound()
    try:
        room_get_visible(user=user, room_id=message.room_id)
    except RoomNotFound as exc:
        raise MessageNotFound() from exc
    return message


def message_get_visible_by_seq(*, user: User, room_id: int, seq: int) -> Message:
    """Message `seq` of a room `user` may read (for clients that name messages by room
    and seq, as socket frames do); MessageNotFound for a missing message and for a
    room they cannot see alike."""
    try:
        room = room_get_visible(user=user, room_id=room_id)
    except RoomNotFound as exc:
        raise MessageNotFound() from exc
    message = (
        Message.objects.select_related(*selectors.MESSAGE_RELATED)
        .filter(room=room, seq=seq)
        .first()
    )
    if message is None:
        raise MessageNotFound()
    message.room = room
    return message


def attachment_get_readable(*, user: User, attachment_id: str) -> Attachment:
    """A message's file, for whoever may read the room's history (the same rule as
    room_get_visible). Everything else raises the one AttachmentNotFound: a missing
    id, an upload not sent yet, a deleted message's file, a private room not theirs,
    a room they are banned from, anonymous callers (`user` None)."""
    if user is None or not getattr(user, "is_authenticated", False):
        raise AttachmentNotFound()
    attachment = (
        Attachment.objects.filter(pk=attachment_id, message__isnull=False, message__deleted=False)
        .only("pk", "room_id", "name", "size", "content_type", "file", "thumbnail")
        .first()
    )
    if attachment is None:
        raise AttachmentNotFound()
    try:
        room_get_visible(user=user, room_id=attachment.room_id)
    except (RoomNotFound, Banned) as exc:
        raise AttachmentNotFound() from exc
    return attachment


# --- roles --------------------------------------------------------------------------------


def _is_moderator(membership: Membership | None) -> bool:
    return membership is not None and membership.role in (
        Membership.Role.OWNER,
        Membership.Role.MODERATOR,
    )


def _moderates(*, user: User, room: Room, membership: Membership | None) -> bool:
    if user.is_staff and room.kind == Room.Kind.PUBLIC:
        return True
    return _is_moderator(membership)


def can_moderate(*, user: User, room: Room) -> bool:
    """Owners and moderators of the room; site staff in any public room."""
    membership = selectors.membership_get(user=user, room=room)
    return _moderates(user=user, room=room, membership=membership)


# --- writing ------------------------------------------------------------------------------


def check_can_write(*, user: User, room: Room, membership: Membership | None) -> None:
    """Posting, editing and reacting: the room is open to the user's writing. The
    caller has read the room through room_get_visible (so a ban was refused) and
    passes the user's membership (None: not a member; a public room's caller joins
    them first)."""
    if room.is_archived:
        raise Forbidden("This room is archived and read-only.")
    if membership is None:
        if room.is_private:
            raise RoomNotFound()
        if RoomBan.objects.filter(room=room, user=user).exists():
            raise_banned(room=room, user=user)
    if room.is_locked and not _is_moderator(membership):
        raise Locked("This room is locked: only its moderators can post.")
    if membership is None:
        return  # a public room's visitor: posting makes them a member (and rechecks)
    if membership.muted_until is not None and membership.muted_until > timezone.now():
        until = membership.muted_until.isoformat()
        reason = selectors.mute_reason(room=room, user=user)
        raise Muted(f"You are muted in this room until {until}.", until=until, reason=reason)


def _within_edit_window(message: Message) -> bool:
    return timezone.now() - message.created <= timedelta(seconds=settings.CHAT_EDIT_WINDOW)


def check_can_edit(*, user: User, message: Message) -> None:
    if message.author_id != user.pk:
        raise Forbidden("Only the author can edit a message.")
    if message.deleted:
        raise InvalidInput("A deleted message cannot be edited.")
    _check_member_can_write(user=user, room=message.room)
    if not _within_edit_window(message):
        raise Forbidden("This message is too old to edit.")


def check_can_react(*, user: User, message: Message) -> None:
    if message.deleted:
        raise InvalidInput("A deleted message cannot take reactions.")
    room = message.room
    membership = selectors.membership_get(user=user, room=room)
    if membership is None and room.is_private:
        raise Forbidden("Only members can react.")
    check_can_write(user=user, room=room, membership=membership)


def check_can_delete(*, user: User, message: Message) -> None:
    """A moderator deletes any message at any time (in an archived room, site staff
    only); an author deletes their own within the edit window, under the post rules."""
    room = message.room
    if can_moderate(user=user, room=room):
        if room.is_archived and not user.is_staff:
            raise Forbidden("This room is archived and read-only.")
        return
    if message.author_id != user.pk:
        raise Forbidden("Only the author or a moderator can delete a message.")
    _check_member_can_write(user=user, room=room)
    if not _within_edit_window(message):
        raise Forbidden("This message is too old to delete.")


def _may_pin(*, user: User, room: Room, membership: Membership | None) -> bool:
    """Pins are the room's shared notice board: in a public room its owner and
    moderators (and site staff) keep it; in a private room (1:1 or conference) every
    member does, as they share the room as equals."""
    if room.is_private:
        return membership is not None
    return _moderates(user=user, room=room, membership=membership)


def can_pin(*, user: User, room: Room) -> bool:
    """Whether the page offers "Pin message" (the room's rules still apply on the day:
    a mute or a lock refuses it, with its reason)."""
    membership = selectors.membership_get(user=user, room=room)
    return _may_pin(user=user, room=room, membership=membership)


def check_can_pin(*, user: User, message: Message, pin: bool) -> None:
    """Pinning (`pin`) or unpinning a message the caller has read through
    message_get_visible. The role first (403 `forbidden`), then the post rules (archived,
    locked, muted), then the message: deleted messages and system lines are never
    pinned (400; unpinning them is harmless, as they are never pinned)."""
    room = message.room
    membership = selectors.membership_get(user=user, room=room)
    if room.is_private and membership is None:
        raise MessageNotFound()
    if not _may_pin(user=user, room=room, membership=membership):
        raise Forbidden("Only the room's owner or moderators can pin messages.")
    check_can_write(user=user, room=room, membership=membership)
    if pin and message.deleted:
        raise InvalidInput("A deleted message cannot be pinned.")
    if pin and message.kind == Message.Kind.SYSTEM:
        raise InvalidInput("System messages cannot be pinned.")


def _check_member_can_write(*, user: User, room: Room) -> None:
    membership = selectors.membership_get(user=user, room=room)
    if membership is None:
        if room.is_private:
            raise RoomNotFound()
        if RoomBan.objects.filter(room=room, user=user).exists():
            raise_banned(room=room, user=user)
        raise Forbidden("Join the room first.")
    check_can_write(user=user, room=room, membership=membership)
