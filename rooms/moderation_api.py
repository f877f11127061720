"""Moderation over the JSON API: the same services as the room page and the admin."""

from __future__ import annotations

from datetime import datetime

from ninja import Router, Schema, Status

from rooms import access, moderation

router = Router(tags=["moderation"])


class Detail(Schema):
    detail: str


class Target(Schema):
    username: str
    reason: str = ""


class MuteIn(Target):
    minutes: int | None = None


class RoleIn(Schema):
    username: str
    moderator: bool


class ReasonIn(Schema):
    reason: str = ""


class ReportIn(Schema):
    reason: str


class MuteOut(Schema):
    until: datetime


class AuditEntry(Schema):
    actor: str | None
    action: str
    target: str | None
    message_seq: int | None
    reason: str
    created: datetime


class AuditLog(Schema):
    entries: list[AuditEntry]


class BanOut(Schema):
    username: str
    reason: str
    by: str | None
    created: datetime


class BanList(Schema):
    bans: list[BanOut]


ERRORS = {400: Detail, 403: Detail, 404: Detail}


def _room(request, room_id: int):
    return access.room_get_visible(user=request.auth, room_id=room_id)


@router.post("/rooms/{room_id}/mute", response={200: MuteOut, **ERRORS})
def mute(request, room_id: int, payload: MuteIn):
    """Mute a member for `minutes` (null: until lifted)."""
    until = moderation.member_mute(
        room=_room(request, room_id),
        by=request.auth,
        username=payload.username,
        minutes=payload.minutes,
        reason=payload.reason,
    )
    return {"until": until}


@router.post("/rooms/{room_id}/unmute", response={204: None, **ERRORS})
def unmute(request, room_id: int, payload: Target):
    moderation.member_unmute(
        room=_room(request, room_id), by=request.auth, username=payload.username
    )
    return Status(204, None)


@router.post("/rooms/{room_id}/ban", response={204: None, **ERRORS})
def ban(request, room_id: int, payload: Target):
    """Remove a member from a public room at once; they cannot rejoin until unbanned."""
    moderation.member_ban(
        room=_room(request, room_id),
        by=request.auth,
        username=payload.username,
        reason=payload.reason,
    )
    return Status(204, None)


@router.post("/rooms/{room_id}/unban", response={204: None, **ERRORS})
def unban(request, room_id: int, payload: Target):
    moderation.member_unban(
        room=_room(request, room_id), by=request.auth, username=payload.username
    )
    return Status(204, None)


@router.post("/rooms/{room_id}/lock", response={204: None, **ERRORS})
def lock(request, room_id: int, payload: ReasonIn):
    moderation.room_lock(
        room=_room(request, room_id), by=request.auth, locked=True, reason=payload.reason
    )
    return Status(204, None)


@router.post("/rooms/{room_id}/unlock", response={204: None, **ERRORS})
def unlock(request, room_id: int):
    moderation.room_lock(room=_room(request, room_id), by=request.auth, locked=False)
    return Status(204, None)


@router.post("/rooms/{room_id}/archive", response={204: None, **ERRORS})
def archive(request, room_id: int, payload: ReasonIn):
    moderation.room_archive(room=_room(request, room_id), by=request.auth, reason=payload.reason)
    return Status(204, None)


@router.post("/rooms/{room_id}/moderators", response={204: None, **ERRORS})
def set_moderator(request, room_id: int, payload: RoleIn):
    """Owners appoint (`moderator: true`) and dismiss moderators."""
    moderation.moderator_set(
        room=_room(request, room_id),
        by=request.auth,
        username=payload.username,
        moderator=payload.moderator,
    )
    return Status(204, None)


@router.get("/rooms/{room_id}/bans", response={200: BanList, **ERRORS})
def bans(request, room_id: int):
    """Who is banned from the room (owners and moderators): the list to unban from."""
    found = moderation.bans_for_room(room=_room(request, room_id), user=request.auth)
    return {
        "bans": [
            {
                "username": ban.user.username,
                "reason": ban.reason,
                "by": ban.by.username if ban.by else None,
                "created": ban.created,
            }
            for ban in found
        ]
    }


@router.get("/rooms/{room_id}/audit", response={200: AuditLog, **ERRORS})
def audit(request, room_id: int):
    """The room's moderation log, for its owner and moderators."""
    entries = moderation.audit_for_room(room=_room(request, room_id), user=request.auth)
    return {
        "entries": [
            {
                "actor": e.actor.username if e.actor else None,
                "action": e.action,
                "target": e.target_user.username if e.target_user else None,
                "message_seq": e.message.seq if e.message_id and e.message else None,
                "reason": e.reason,
                "created": e.created,
            }
            for e in entries
        ]
    }


@router.post("/messages/{message_id}/report", response={201: None, **ERRORS})
def report(request, message_id: int, payload: ReportIn):
    """Report a message to the moderators, with a reason."""
    message = access.message_get_visible(user=request.auth, message_id=message_id)
    moderation.message_report(message=message, by=request.auth, reason=payload.reason)
    return Status(201, None)
