"""Rooms and messages over the JSON API. Thin: parse, call a service or selector,
answer. Access always goes through access.room_get_visible."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Literal

from django.conf import settings
from django.http import StreamingHttpResponse
from ninja import Field, Router, Schema, Status
from pydantic import StrictBool, StrictInt

from accounts import avatars
from accounts.api_auth import ASYNC_AUTH
from rooms import access, changes, moderation, selectors, services, wire
from rooms.errors import InvalidInput
from rooms.models import Room
from rooms.realtime import connections, db_gate, longpoll

router = Router(tags=["rooms"])


class Detail(Schema):
    detail: str


class RoomOut(Schema):
    """`members` is left out, not null, for public rooms (routes use exclude_none)."""

    id: int
    name: str
    kind: Literal["public", "direct", "conference"]
    slug: str
    topic: str
    last_seq: int
    archived: bool
    locked: bool = False
    temporary: bool = False
    announce_joins: bool = False
    open_to_guests: bool = False
    members: list[str] | None = None


class RoomList(Schema):
    rooms: list[RoomOut]


class RoomIn(Schema):
    name: str | None = None
    kind: Literal["public", "conference"] = "public"
    members: list[str] = Field(default_factory=list)
    topic: str = ""
    temporary: bool = False
    # Off by default here: rooms made by scripts and bots stay quiet unless asked.
    announce_joins: bool = False


class DirectIn(Schema):
    username: str


class InviteIn(Schema):
    usernames: list[str]


class AttachmentOut(Schema):
    """A file of a message (rooms/attachments.py); images add width, height and a
    thumbnail. The URLs are permission-checked on every request."""

    id: str
    name: str
    size: int
    content_type: str
    url: str
    width: int | None = None
    height: int | None = None
    thumbnail_url: str | None = None
    thumbnail_width: int | None = None
    thumbnail_height: int | None = None


class MessageOut(Schema):
    id: int
    room: int
    seq: int
    rev: int
    kind: Literal["text", "action", "system"]
    author: str | None
    author_name: str | None
    body: str
    created_at: datetime
    client_id: str | None
    edited_at: datetime | None
    deleted: bool
    reactions: dict[str, list[str]] = Field(default_factory=dict)
    html: str = ""
    reply_to: int | None = None
    pinned: bool = False
    pinned_at: datetime | None = None
    pinned_by: str | None = None
    attachments: list[AttachmentOut] = Field(default_factory=list)
    thread_only: bool = False
    reply_count: int = 0
    last_reply_seq: int | None = None
    last_reply_at: datetime | None = None


class MessagePage(Schema):
    messages: list[MessageOut]
    has_more: bool


class MessageIn(Schema):
    # May be empty (or left out) when `attachments` names at least one upload.
    body: str | None = None
    client_id: str | None = None
    # Strict: "3", 3.0 and true are refused, not read as 3 (services checks the rest).
    reply_to: StrictInt | None = None
    # Upload ids from POST /api/rooms/{id}/uploads (rooms/files_api.py).
    attachments: list[str] | None = None
    # Keep a reply in its thread (true only with reply_to); strict like reply_to.
    thread_only: StrictBool | None = None


class MessageEdit(Schema):
    body: str


def _room_out(room: Room) -> dict:
    members = selectors.room_member_usernames(room=room) if room.is_private else None
    return wire.room_dict(room, members)


@router.get("/rooms", response=RoomList, exclude_none=True)
def room_list(request):
    """Public rooms and the private rooms I belong to, newest activity first."""
    rooms = list(selectors.rooms_for_user(user=request.auth).prefetch_related("memberships__user"))
    out = []
    for room in rooms:
        members = None
        if room.is_private:
            members = sorted(m.user.username for m in room.memberships.all())
        out.append(wire.room_dict(room, members))
    return {"rooms": out}


@router.post("/rooms", response={201: RoomOut, 400: Detail}, exclude_none=True)
def room_create(request, payload: RoomIn):
    room = services.room_create(
        creator=request.auth,
        name=payload.name,
        kind=payload.kind,
        members=payload.members,
        topic=payload.topic,
        temporary=payload.temporary,
        announce_joins=payload.announce_joins,
    )
    return Status(201, _room_out(room))


@router.get("/rooms/{room_id}", response={200: RoomOut, 404: Detail}, exclude_none=True)
def room_detail(request, room_id: int):
    return _room_out(access.room_get_visible(user=request.auth, room_id=room_id))


@router.post("/direct", response={200: RoomOut, 201: RoomOut, 400: Detail}, exclude_none=True)
def direct_open(request, payload: DirectIn):
    """The one private 1:1 room between me and that user: 201 when it was just made."""
    room, created = services.direct_get_or_create(user=request.auth, username=payload.username)
    return Status((201 if created else 200), _room_out(room))


@router.post(
    "/rooms/{room_id}/invite",
    response={200: RoomOut, 400: Detail, 404: Detail},
    exclude_none=True,
)
def room_invite(request, room_id: int, payload: InviteIn):
    room = access.room_get_visible(user=request.auth, room_id=room_id)
    target = services.room_invite(room=room, by=request.auth, usernames=payload.usernames)
    return _room_out(target)


@router.post("/rooms/{room_id}/leave", response={204: None, 400: Detail, 404: Detail})
def room_leave(request, room_id: int):
    room = access.room_get_visible(user=request.auth, room_id=room_id)
    services.room_leave(room=room, user=request.auth)
    return Status(204, None)


def _check_cursor(name: str, value: int | None) -> None:
    if value is not None and value < 0:
        raise InvalidInput(f"{name} must be a non-negative integer.")


@router.get(
    "/rooms/{room_id}/messages",
    response={200: MessagePage, 400: Detail, 401: Detail, 403: Detail, 404: Detail},
    auth=ASYNC_AUTH,
)
async def message_list(
    request,
    room_id: int,
    after: int | None = None,
    before: int | None = None,
    limit: int | None = None,
    wait: float | None = None,
    changed_after: int | None = None,
):
    """History by seq (oldest first), changes since a rev, or a long poll with `wait`."""
    for name, value in (("after", after), ("before", before), ("changed_after", changed_after)):
        _check_cursor(name, value)
    if limit is not None and limit < 1:
        raise InvalidInput("limit must be at least 1.")
    if after is not None and before is not None:
        raise InvalidInput("Give after or before, not both.")
    if wait is not None and not 0 <= wait <= settings.CHAT_LONG_POLL_MAX:
        raise InvalidInput(f"wait must be 0 to {settings.CHAT_LONG_POLL_MAX} seconds.")
    user = request.auth
    room = await db_gate.run(access.room_get_visible, user=user, room_id=room_id)

    def read_now():
        if changed_after is not None:
            rows, has_more = selectors.messages_changed_after(
                room=room, rev=changed_after, limit=limit
            )
        else:
            rows, has_more = selectors.messages_page(
                room=room, after=after, before=before, limit=limit
            )
        return {"messages": [wire.message_dict(m) for m in rows], "has_more": has_more}

    async def read():
        return await db_gate.run(read_now)

    if wait and after is not None and changed_after is None:
        credential = getattr(user, "chat_credential", None)
        if credential is None and request.session.session_key:
            credential = f"session:{request.session.session_key}"
        try:
            return await longpoll.wait_for_messages(
                user=user,
                credential=credential,
                room_id=room.id,
                after=after,
                seconds=wait,
                limit=selectors.clamp_limit(limit),
            )
        except longpoll.Revoked:
            return Status(401, {"detail": "Your session ended or your token was revoked."})
    return await read()


EXPORT_BATCH = 500


def _export_batch(room_id: int, after: int) -> list[dict]:
    return [
        wire.message_dict(m)
        for m in selectors.messages_between(
            room_id=room_id, after=after, up_to=after + EXPORT_BATCH
        )
    ]


@router.get(
    "/rooms/{room_id}/export",
    response={200: None, 403: Detail, 404: Detail},
    auth=ASYNC_AUTH,
)
async def room_export(request, room_id: int):
    """The room's whole history as JSON lines (one Message per line, in seq order),
    streamed in batches: memory stays flat however long the history."""
    room = await db_gate.run(access.room_get_exportable, user=request.auth, room_id=room_id)
    last_seq = room.last_seq  # what exists now; later messages belong to the next export

    async def lines():
        after = 0
        while after < last_seq:
            batch = await db_gate.run(_export_batch, room.id, after)
            if not batch:
                return
            yield "".join(json.dumps(m, ensure_ascii=False) + "\n" for m in batch)
            after = batch[-1]["seq"]

    response = StreamingHttpResponse(lines(), content_type="application/x-ndjson; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="room-{room.id}.jsonl"'
    return response


@router.post("/rooms/{room_id}/messages", response={201: MessageOut, 400: Detail, 404: Detail})
def message_post(request, room_id: int, payload: MessageIn):
    room = access.room_get_visible(user=request.auth, room_id=room_id)
    message, _ = services.message_post(
        room=room,
        author=request.auth,
        body=payload.body,
        client_id=payload.client_id,
        reply_to=payload.reply_to,
        attachments=payload.attachments,
        thread_only=payload.thread_only,
    )
    return Status(201, wire.message_dict(message))


@router.get(
    "/rooms/{room_id}/messages/{seq}/replies",
    response={200: MessagePage, 400: Detail, 404: Detail},
)
def message_replies(
    request, room_id: int, seq: int, after: int | None = None, limit: int | None = None
):
    """The replies to message `seq`, oldest first; `after` (a seq) reads on from there.
    Readable exactly as the room's history is."""
    _check_cursor("after", after)
    if limit is not None and limit < 1:
        raise InvalidInput("limit must be at least 1.")
    room = access.room_get_visible(user=request.auth, room_id=room_id)
    rows, has_more = selectors.message_replies(room=room, seq=seq, after=after, limit=limit)
    return {"messages": [wire.message_dict(m) for m in rows], "has_more": has_more}


@router.patch(
    "/messages/{message_id}", response={200: MessageOut, 400: Detail, 403: Detail, 404: Detail}
)
def message_edit(request, message_id: int, payload: MessageEdit):
    message = access.message_get_visible(user=request.auth, message_id=message_id)
    message = changes.message_edit(message=message, by=request.auth, body=payload.body)
    return wire.message_dict(message)


@router.delete("/messages/{message_id}", response={204: None, 403: Detail, 404: Detail})
def message_delete(request, message_id: int):
    message = access.message_get_visible(user=request.auth, message_id=message_id)
    moderation.message_remove(message=message, by=request.auth)
    return Status(204, None)


@router.post(
    "/messages/{message_id}/pin", response={204: None, 400: Detail, 403: Detail, 404: Detail}
)
def message_pin(request, message_id: int):
    """Pin a message to its room's "Pinned" list: owners and moderators of a public
    room, any member of a private one. Pinning a pinned message changes nothing."""
    message = access.message_get_visible(user=request.auth, message_id=message_id)
    moderation.message_pin(message=message, by=request.auth, pinned=True)
    return Status(204, None)


@router.delete(
    "/messages/{message_id}/pin", response={204: None, 400: Detail, 403: Detail, 404: Detail}
)
def message_unpin(request, message_id: int):
    """Take a message off its room's "Pinned" list: whoever may pin may unpin, whoever
    pinned it. Unpinning a message that is not pinned changes nothing."""
    message = access.message_get_visible(user=request.auth, message_id=message_id)
    moderation.message_pin(message=message, by=request.auth, pinned=False)
    return Status(204, None)


class PinnedList(Schema):
    messages: list[MessageOut]


@router.get("/rooms/{room_id}/pins", response={200: PinnedList, 403: Detail, 404: Detail})
def room_pins(request, room_id: int):
    """The room's pinned messages, newest pin first; readable as its history is."""
    room = access.room_get_visible(user=request.auth, room_id=room_id)
    return {"messages": [wire.message_dict(m) for m in selectors.messages_pinned(room=room)]}


class SearchResults(Schema):
    results: list[MessageOut]


@router.get("/search", response={200: SearchResults, 400: Detail})
def message_search(request, q: str, limit: int = 50):
    """Messages matching `q` from rooms I may read, newest first."""
    if not q.strip():
        raise InvalidInput("q must not be empty.")
    rows = selectors.messages_search(user=request.auth, query=q[:200], limit=limit)
    return {"results": [wire.message_dict(m) for m in rows]}


class RoomUpdate(Schema):
    name: str | None = None
    topic: str | None = None
    announce_joins: bool | None = None
    open_to_guests: bool | None = None


class ReadIn(Schema):
    seq: int


class PrivateRoomOut(Schema):
    room: RoomOut
    label: str  # what to call it: a 1:1 chat is named for the other person
    handle: str  # that person's username ("" for a conference)
    unread: int
    mentions: int
    last_message: MessageOut | None
    notify_level: Literal["all", "mentions", "nothing"]  # mine, for this room


class PrivateRoomList(Schema):
    rooms: list[PrivateRoomOut]


@router.patch(
    "/rooms/{room_id}",
    response={200: RoomOut, 400: Detail, 403: Detail, 404: Detail},
    exclude_none=True,
)
def room_update(request, room_id: int, payload: RoomUpdate):
    """Rename a conference, set a room's topic, whether a public room announces first
    joins or is open to guests (live for everyone in the room)."""
    room = access.room_get_visible(user=request.auth, room_id=room_id)
    room = services.room_update(
        room=room,
        by=request.auth,
        name=payload.name,
        topic=payload.topic,
        announce_joins=payload.announce_joins,
        open_to_guests=payload.open_to_guests,
    )
    return _room_out(room)


@router.get("/private", response=PrivateRoomList)
def private_room_list(request):
    """My private chats and conferences, newest activity first, with unread counts."""
    return {
        "rooms": [
            {
                "room": wire.room_dict(s["room"], s["members"]),
                "label": s["label"],
                "handle": s["handle"],
                "unread": s["unread"],
                "mentions": s["mentions"],
                "last_message": wire.message_dict(s["last_message"]) if s["last_message"] else None,
                "notify_level": s["notify_level"],
            }
            for s in selectors.private_room_summaries(user=request.auth)
        ]
    }


class SidebarEntry(Schema):
    id: int
    name: str
    kind: Literal["public", "direct", "conference"]
    label: str  # what the sidebar shows: a 1:1 chat is named for the other person
    handle: str  # that person's username ("" for other rooms)
    unread: int
    mentions: int


class SidebarList(Schema):
    rooms: list[SidebarEntry]


@router.get("/sidebar", response=SidebarList)
def sidebar(request):
    """Every room I belong to with its unread and mention counts: public rooms by name,
    then private chats and conferences by newest activity."""
    return {
        "rooms": [
            {
                "id": e["room"].id,
                "name": e["room"].name,
                "kind": e["room"].kind,
                "label": e["label"],
                "handle": e["handle"],
                "unread": e["unread"],
                "mentions": e["mentions"],
            }
            for e in selectors.sidebar_rooms(user=request.auth)
        ]
    }


@router.post("/rooms/{room_id}/read", response={204: None, 400: Detail, 404: Detail})
def room_read(request, room_id: int, payload: ReadIn):
    """Move my read position forward to `seq` (never back)."""
    if payload.seq < 0:
        raise InvalidInput("seq must be a non-negative integer.")
    room = access.room_get_visible(user=request.auth, room_id=room_id)
    services.membership_mark_read(room=room, user=request.auth, seq=payload.seq)
    return Status(204, None)


@router.post("/rooms/{room_id}/hide", response={204: None, 400: Detail, 404: Detail})
def room_hide(request, room_id: int):
    """Hide a 1:1 chat from my list until its next message."""
    room = access.room_get_visible(user=request.auth, room_id=room_id)
    services.direct_hide(room=room, user=request.auth)
    return Status(204, None)


class ReactionIn(Schema):
    emoji: str
    on: bool = True


class RevisionOut(Schema):
    body: str
    replaced: datetime


class RevisionList(Schema):
    revisions: list[RevisionOut]


@router.post(
    "/messages/{message_id}/reactions",
    response={200: MessageOut, 400: Detail, 403: Detail, 404: Detail},
)
def message_react(request, message_id: int, payload: ReactionIn):
    """Add (`on: true`) or remove my emoji reaction; everyone in the room sees it live."""
    message = access.message_get_visible(user=request.auth, message_id=message_id)
    message = changes.reaction_set(
        message=message, by=request.auth, emoji=payload.emoji, on=payload.on
    )
    return wire.message_dict(message)


@router.get(
    "/messages/{message_id}/revisions", response={200: RevisionList, 403: Detail, 404: Detail}
)
def message_revisions(request, message_id: int):
    """Earlier versions of an edited message (moderators)."""
    message = access.message_get_visible(user=request.auth, message_id=message_id)
    return {"revisions": changes.revisions_for(message=message, user=request.auth)}


class MentionList(Schema):
    mentions: list[MessageOut]


@router.get("/mentions", response=MentionList)
def mention_list(request, limit: int = 50):
    """Messages that @mention me, newest first."""
    rows = selectors.mentions_for_user(user=request.auth, limit=limit)
    return {"mentions": [wire.message_dict(m) for m in rows]}


NotifyLevelName = Literal["all", "mentions", "nothing"]


class MemberOut(Schema):
    username: str
    display_name: str
    role: str
    muted_until: datetime | None
    # Mine only (false and null for everyone else): whether my level is "nothing", and
    # the level itself.
    notifications_muted: bool
    notify_level: NotifyLevelName | None
    online: bool
    last_seen: datetime | None
    avatar_url: str | None = None  # as on GET /api/users: null means "draw initials"


class MemberList(Schema):
    members: list[MemberOut]


class NotificationsIn(Schema):
    """Either `level`, or the older `muted` (true: "nothing"; false: the room's default)."""

    muted: bool | None = None
    level: NotifyLevelName | None = None


class NotificationsOut(Schema):
    level: NotifyLevelName


@router.get("/rooms/{room_id}/members", response={200: MemberList, 404: Detail})
def room_member_list(request, room_id: int):
    """Members with their roles (owners and moderators first)."""
    room = access.room_get_visible(user=request.auth, room_id=room_id)
    online = connections.online_usernames()
    members = []
    for m in selectors.room_members(room=room):
        # Only your own setting is yours to see.
        level = m.effective_notify_level if m.user_id == request.auth.pk else None
        members.append(
            {
                "username": m.user.username,
                "online": m.user.username in online,
                "last_seen": m.user.last_seen,
                "display_name": m.user.shown_name,
                "avatar_url": avatars.url(m.user),
                "role": m.role,
                "muted_until": m.muted_until,
                "notifications_muted": level == "nothing",
                "notify_level": level,
            }
        )
    return {"members": members}


@router.get("/rooms/{room_id}/notifications", response={200: NotificationsOut, 404: Detail})
def room_notifications_get(request, room_id: int):
    """My effective notify level in this room (its default if I have not joined it)."""
    room = access.room_get_visible(user=request.auth, room_id=room_id)
    return {"level": selectors.notify_level_get(user=request.auth, room=room)}


@router.post("/rooms/{room_id}/notifications", response={204: None, 400: Detail, 404: Detail})
def room_notifications(request, room_id: int, payload: NotificationsIn):
    """Choose which messages of this room notify me: `{"level": "all"|"mentions"|
    "nothing"}`, or `{"muted": bool}` as before (true: nothing; false: the default)."""
    if (payload.level is None) == (payload.muted is None):
        raise InvalidInput('Give either "level" or "muted".')
    level = payload.level or ("nothing" if payload.muted else None)
    room = access.room_get_visible(user=request.auth, room_id=room_id)
    services.membership_set_notify_level(room=room, user=request.auth, level=level)
    return Status(204, None)
