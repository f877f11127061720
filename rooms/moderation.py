"""Moderation services: roles, deletions, mutes, bans, locks, archiving, deactivation,
reports. Every action is checked here (not in templates), recorded in the audit log,
and takes effect live through rooms.realtime.events after commit; the room page, the API, the
socket and the Django admin all call these same functions."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import ApiToken, User
from rooms import access, changes, selectors, wire
from rooms.access import can_moderate
from rooms.errors import Forbidden, InvalidInput, RoomNotFound
from rooms.input_checks import refuse_control_characters
from rooms.models import Membership, Message, ModerationAction, Report, Room, RoomBan
from rooms.realtime import events
from rooms.services import throttle

Action = ModerationAction.Action


def _require_moderator(*, user: User, room: Room) -> None:
    if room.is_private and not selectors.is_member(user=user, room=room):
        raise RoomNotFound()
    if not can_moderate(user=user, room=room):
        raise Forbidden("Only the room's owner or moderators can do that.")


def _target(room: Room, username: str) -> tuple[User, Membership | None]:
    user = User.objects.filter(username=username).first()
    if user is None:
        raise InvalidInput(f"Unknown user: {username}.")
    return user, selectors.membership_get(user=user, room=room)


def _audit(actor: User | None, action: str, *, room=None, target=None, message=None, reason=""):
    ModerationAction.objects.create(
        actor=actor,
        action=action,
        room=room,
        target_user=target,
        message=message,
        reason=refuse_control_characters(reason or "", field="reason")[:500],
    )


def _protect_owner(room: Room, by: User, membership: Membership | None) -> None:
    if membership is not None and membership.role == Membership.Role.OWNER and not by.is_staff:
        raise Forbidden("The room's owner cannot be moderated.")


def moderator_set(*, room: Room, by: User, username: str, moderator: bool) -> Membership:
    """Owners appoint and dismiss moderators."""
    owner = selectors.membership_get(user=by, room=room)
    if owner is None or owner.role != Membership.Role.OWNER:
        if room.is_private and owner is None:
            raise RoomNotFound()
        raise Forbidden("Only the room's owner can appoint or dismiss moderators.")
    user, membership = _target(room, username)
    if membership is None:
        raise InvalidInput(f"{username} is not a member of this room.")
    if membership.role == Membership.Role.OWNER:
        raise InvalidInput("The owner's role cannot be changed.")
    if moderator:
        access.refuse_guest(user, "be moderators")
    with transaction.atomic():
        membership.role = Membership.Role.MODERATOR if moderator else Membership.Role.MEMBER
        membership.save(update_fields=["role"])
        _audit(by, Action.APPOINT if moderator else Action.DISMISS, room=room, target=user)
    return membership


def message_remove(*, message: Message, by: User, reason: str = "") -> Message:
    """Delete a message as its author or a moderator; recorded when it is moderation."""
    with transaction.atomic():
        changes.message_delete(message=message, by=by)
        if message.author_id != by.pk:
            _audit(
                by,
                Action.DELETE_MESSAGE,
                room=message.room,
                target=message.author,
                message=message,
                reason=reason,
            )
        Report.objects.filter(message=message).update(resolved=True)
    return message


def message_pin(*, message: Message, by: User, pinned: bool) -> Message:
    """Pin or unpin a message (rooms.changes.message_pin_set: who may, the limit, the
    rev and the broadcast). Each actual change is recorded in the room's audit log, in
    every kind of room: unpinning leaves no other trace, and the log is where owners
    and moderators look for who changed the room's shared state."""
    with transaction.atomic():
        if changes.message_pin_set(message=message, by=by, pinned=pinned):
            _audit(
                by,
                Action.PIN if pinned else Action.UNPIN,
                room=message.room,
                target=message.author,
                message=message,
            )
    return message


def member_mute(
    *, room: Room, by: User, username: str, minutes: int | None, reason: str = ""
) -> datetime:
    """Refuse the member's sends for `minutes` (None: until lifted). Returns until when."""
    _require_moderator(user=by, room=room)
    user, membership = _target(room, username)
    if membership is None:
        raise InvalidInput(f"{username} is not a member of this room.")
    _protect_owner(room, by, membership)
    if minutes is not None and not 1 <= minutes <= 60 * 24 * 365:
        raise InvalidInput("minutes must be 1 to 525600, or null for until lifted.")
    until = (
        timezone.now() + timedelta(minutes=minutes)
        if minutes is not None
        else timezone.now() + timedelta(days=365 * 100)
    )
    with transaction.atomic():
        membership.muted_until = until
        membership.save(update_fields=["muted_until"])
        _audit(by, Action.MUTE, room=room, target=user, reason=reason)
        events.muted(room_id=room.pk, user_id=user.pk, until=until.isoformat(), reason=reason)
    return until


def member_unmute(*, room: Room, by: User, username: str) -> None:
    _require_moderator(user=by, room=room)
    user, membership = _target(room, username)
    if membership is None:
        raise InvalidInput(f"{username} is not a member of this room.")
    with transaction.atomic():
        membership.muted_until = None
        membership.save(update_fields=["muted_until"])
        _audit(by, Action.UNMUTE, room=room, target=user)
        events.muted(room_id=room.pk, user_id=user.pk, until=None, reason="")


def member_ban(*, room: Room, by: User, username: str, reason: str = "") -> RoomBan:
    """Remove a member from a public room now and refuse them until unbanned."""
    _require_moderator(user=by, room=room)
    if room.kind != Room.Kind.PUBLIC:
        raise InvalidInput("Bans apply to public rooms.")
    user, membership = _target(room, username)
    if user.pk == by.pk:
        raise InvalidInput("You cannot ban yourself.")
    _protect_owner(room, by, membership)
    with transaction.atomic():
        ban, _ = RoomBan.objects.update_or_create(
            room=room, user=user, defaults={"by": by, "reason": reason[:500]}
        )
        if membership is not None:
            membership.delete()
        _audit(by, Action.BAN, room=room, target=user, reason=reason)
        detail = "You were banned from this room." + (f" Reason: {reason}" if reason else "")
        events.membership_ended(room_id=room.pk, user_id=user.pk, detail=detail)
    return ban


def member_unban(*, room: Room, by: User, username: str) -> None:
    _require_moderator(user=by, room=room)
    user, _ = _target(room, username)
    with transaction.atomic():
        RoomBan.objects.filter(room=room, user=user).delete()
        _audit(by, Action.UNBAN, room=room, target=user)


def room_lock(*, room: Room, by: User, locked: bool, reason: str = "") -> Room:
    _require_moderator(user=by, room=room)
    with transaction.atomic():
        Room.objects.filter(pk=room.pk).update(is_locked=locked)
        room.is_locked = locked
        _audit(by, Action.LOCK if locked else Action.UNLOCK, room=room, reason=reason)
        events.room_updated(room_id=room.pk, room=wire.room_dict(room))
    return room


def room_archive(*, room: Room, by: User, reason: str = "") -> Room:
    _require_moderator(user=by, room=room)
    with transaction.atomic():
        Room.objects.filter(pk=room.pk).update(is_archived=True)
        room.is_archived = True
        _audit(by, Action.ARCHIVE, room=room, reason=reason)
        events.room_updated(room_id=room.pk, room=wire.room_dict(room))
    return room


def user_deactivate(*, user: User, by: User, reason: str = "") -> None:
    """Staff only: the account stops working at once, on every socket and token."""
    if not by.is_staff:
        raise Forbidden("Only staff can deactivate accounts.")
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(is_active=False)
        user.is_active = False
        ApiToken.objects.filter(user=user).delete()
        _audit(by, Action.DEACTIVATE, target=user, reason=reason)
        events.user_deactivated(user.pk)


def message_report(*, message: Message, by: User, reason: str) -> Report:
    """Any member who can read the message can report it once."""
    reason = " ".join(refuse_control_characters(str(reason), field="reason").split())
    if not reason or len(reason) > 500:
        raise InvalidInput("Give a reason of 1 to 500 characters.")
    if not Report.objects.filter(message=message, reporter=by).exists():
        throttle(f"reports:{by.pk}", limit=settings.CHAT_REPORTS_PER_HOUR, per_seconds=3600)
    report, _ = Report.objects.get_or_create(
        message=message, reporter=by, defaults={"reason": reason}
    )
    return report


def bans_for_room(*, room: Room, user: User) -> list[RoomBan]:
    """Who is banned from the room, newest first, for its owner and moderators."""
    _require_moderator(user=user, room=room)
    return list(room.bans.select_related("user", "by").order_by("-created", "-id")[:500])


def audit_for_room(*, room: Room, user: User) -> list[ModerationAction]:
    """The room's audit log, for its owner and moderators (and staff)."""
    _require_moderator(user=user, room=room)
    return list(
        ModerationAction.objects.filter(room=room).select_related(
            "actor", "target_user", "message"
        )[:200]
    )
