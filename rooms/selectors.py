"""Reads worth naming. Who may read what is decided in rooms.access (room_get_visible)."""

from __future__ import annotations

import re

from django.conf import settings
from django.db import connection
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery

from accounts.models import User
from chatsite import raw_rows
from rooms.errors import InvalidInput, MessageNotFound, RoomNotFound
from rooms.models import (
    Membership,
    Mention,
    Message,
    ModerationAction,
    Room,
    notify_level_for,
)


def public_room_id_by_name(*, name: str) -> int:
    """The id of the open public room named by clients that name rooms instead of
    numbering them (the TCP gateway): an exact slug first, then a unique name
    (case-insensitive). Private rooms are never found by name; a missing room and an
    ambiguous name raise RoomNotFound and InvalidInput."""
    name = " ".join(name.split())
    by_slug = public_rooms().filter(slug=name).values_list("id", flat=True).first()
    if by_slug is not None:
        return by_slug
    ids = list(
        public_rooms()
        .filter(Q(name__iexact=name) | Q(slug__iexact=name))
        .order_by("id")
        .values_list("id", flat=True)[:2]
    )
    if not ids:
        raise RoomNotFound()
    if len(ids) > 1:
        raise InvalidInput(f"More than one public room is named {name!r}; give its id.")
    return ids[0]


def is_member(*, user: User, room: Room) -> bool:
    return Membership.objects.filter(room=room, user=user).exists()


def membership_get(*, user: User, room: Room) -> Membership | None:
    return Membership.objects.filter(room=room, user=user).first()


def rooms_for_user(*, user: User) -> QuerySet[Room]:
    """Open public rooms (not those the user is banned from) and the private rooms the
    user belongs to, newest activity first."""
    return (
        Room.objects.filter(
            Q(kind=Room.Kind.PUBLIC, is_archived=False)
            | (Q(memberships__user=user) & ~Q(kind=Room.Kind.PUBLIC))
        )
        .exclude(bans__user=user)
        .distinct()
        .order_by("-last_message_at", "-id")
    )


def public_rooms(*, for_user: User | None = None) -> QuerySet[Room]:
    """Open public rooms; for a user, without the rooms they are banned from."""
    rooms = Room.objects.filter(kind=Room.Kind.PUBLIC, is_archived=False)
    if for_user is not None:
        rooms = rooms.exclude(bans__user=for_user)
    return rooms.order_by("-last_message_at", "-id")


def public_room_directory(*, user: User) -> QuerySet[Room]:
    """The public rooms a user may open, for the room list: each with `member_count`
    and `joined` (whether the user is a member). One query."""
    return public_rooms(for_user=user).annotate(
        member_count=Count("memberships", distinct=True),
        joined=Exists(Membership.objects.filter(room=OuterRef("pk"), user=user)),
    )


def private_rooms_for_user(*, user: User) -> QuerySet[Room]:
    return (
        Room.objects.filter(memberships__user=user, memberships__hidden=False)
        .exclude(kind=Room.Kind.PUBLIC)
        .order_by(F("last_message_at").desc(nulls_last=True), "-id")
    )


def _first_line(message: Message | None) -> str:
    if message is None:
        return ""
    if message.deleted:
        return "message removed"
    if not message.body and message.attachments:  # files only: name the first
        more = len(message.attachments) - 1
        return f"[file: {message.attachments[0]['name']}]" + (f" and {more} more" if more else "")
    line = message.body.split("\n", 1)[0]
    return line if len(line) <= 120 else line[:119] + "…"


def _label(room: Room, other: tuple[str, str] | None) -> dict[str, str]:
    """What a room is called to one member: a 1:1 chat is named for the other person
    (display name, then @username beside it), every other room by its name."""
    if room.kind == Room.Kind.DIRECT and other is not None:
        return {"label": other[0], "handle": other[1]}
    return {"label": room.name, "handle": ""}


def _labels_from_members(*, user: User, rooms, member_rows) -> dict[int, dict[str, str]]:
    """Room id -> label (see _label) from (room_id, username, display_name) rows of the
    rooms' members; the one place that picks "the other person" of a 1:1 chat."""
    others = {
        room_id: (display_name or username, username)
        for room_id, username, display_name in member_rows
        if username != user.username
    }
    return {r.id: _label(r, others.get(r.id)) for r in rooms}


def room_labels(*, user: User, rooms) -> dict[int, dict[str, str]]:
    """Room id -> what `user` calls each room (see _label); one query for the 1:1 chats."""
    rooms = list(rooms)
    rows = Membership.objects.filter(
        room_id__in=[r.id for r in rooms if r.kind == Room.Kind.DIRECT]
    ).values_list("room_id", "user__username", "user__display_name")
    return _labels_from_members(user=user, rooms=rooms, member_rows=rows)


def room_label(*, room: Room, user: User) -> dict[str, str]:
    return room_labels(user=user, rooms=[room])[room.id]


def private_room_summaries(*, user: User) -> list[dict]:
    """The user's private chats and conferences for the list: newest activity first,
    with the last message and the unread count (messages after the read position).
    Three queries however many rooms."""
    memberships = {
        m.room_id: m
        for m in Membership.objects.filter(user=user, hidden=False)
        .exclude(room__kind=Room.Kind.PUBLIC)
        .select_related("room")
    }
    rooms = sorted(
        (m.room for m in memberships.values()),
        key=lambda r: (r.last_message_at is not None, r.last_message_at, r.id),
        reverse=True,
    )
    last_messages = {
        m.room_id: m
        for m in Message.objects.filter(
            room_id__in=[r.id for r in rooms if r.last_seq],
            seq=Subquery(Room.objects.filter(pk=OuterRef("room_id")).values("last_seq")[:1]),
        ).select_related(*MESSAGE_RELATED)
    }
    member_rows = list(
        Membership.objects.filter(room_id__in=[r.id for r in rooms])
        .order_by("user__username")
        .values_list("room_id", "user__username", "user__display_name")
    )
    members = {}
    for room_id, username, _ in member_rows:
        members.setdefault(room_id, []).append(username)
    labels = _labels_from_members(user=user, rooms=rooms, member_rows=member_rows)
    mention_counts = _unread_mention_counts(user=user, room_ids=list(memberships))
    return [
        {
            **labels[room.id],
            "room": room,
            "members": members.get(room.id, []),
            "mentions": mention_counts.get(room.id, 0),
            "last_message": last_messages.get(room.id),
            "preview": _first_line(last_messages.get(room.id)),
            "unread": max(0, room.last_seq - memberships[room.id].last_read_seq),
            "notify_level": memberships[room.id].effective_notify_level,
        }
        for room in rooms
    ]


def _unread_mention_counts(*, user: User, room_ids: list[int]) -> dict[int, int]:
    """Room id -> mentions of `user` after their read position there (one query)."""
    return dict(
        Mention.objects.filter(
            user=user,
            room_id__in=room_ids,
            room__memberships__user=user,
            seq__gt=F("room__memberships__last_read_seq"),
        )
        .values("room_id")
        .annotate(count=Count("id"))
        .values_list("room_id", "count")
    )


def sidebar_rooms(*, user: User) -> list[dict]:
    """Every room the user belongs to (hidden private chats left out), for the sidebar:
    public rooms by name, then private chats and conferences by newest activity, each
    with its unread and mention counts. A 1:1 chat is named for the other person.
    Three queries however many rooms."""
    memberships = {
        m.room_id: m
        for m in Membership.objects.filter(
            user=user, hidden=False, room__is_archived=False
        ).select_related("room")
    }
    rooms = [m.room for m in memberships.values()]
    public = sorted((r for r in rooms if r.kind == Room.Kind.PUBLIC), key=lambda r: r.name.lower())
    private = sorted(
        (r for r in rooms if r.kind != Room.Kind.PUBLIC),
        key=lambda r: (r.last_message_at is not None, r.last_message_at, r.id),
        reverse=True,
    )
    labels = room_labels(user=user, rooms=private)
    mentions = _unread_mention_counts(user=user, room_ids=list(memberships))

    def entry(room: Room) -> dict:
        return {
            "room": room,
            **labels.get(room.id, _label(room, None)),
            "unread": max(0, room.last_seq - memberships[room.id].last_read_seq),
            "mentions": mentions.get(room.id, 0),
        }

    return [entry(room) for room in [*public, *private]]


def room_member_usernames(*, room: Room) -> list[str]:
    return list(
        Membership.objects.filter(room=room)
        .order_by("user__username")
        .values_list("user__username", flat=True)
    )


def notify_level_get(*, user: User, room: Room) -> str:
    """The user's effective notify level in the room (the room's default for a reader
    who is not a member yet: what joining would give them)."""
    stored = (
        Membership.objects.filter(room=room, user=user).values_list("notify_level", flat=True)
    ).first()
    return notify_level_for(room_kind=room.kind, stored=stored or "")


def room_member_notify_levels(*, room: Room) -> dict[int, str]:
    """{user id: effective notify level} of every member of the room, in one query."""
    return {
        user_id: notify_level_for(room_kind=room.kind, stored=stored)
        for user_id, stored in Membership.objects.filter(room=room).values_list(
            "user_id", "notify_level"
        )
    }


# What message_dict reads beside the message row: loaded with it, one query per page.
MESSAGE_RELATED = ("author", "pinned_by")


def _messages(room: Room) -> QuerySet[Message]:
    return Message.objects.filter(room=room).select_related(*MESSAGE_RELATED)


def clamp_limit(limit: int | None) -> int:
    if limit is None:
        return settings.CHAT_PAGE_DEFAULT
    return max(1, min(int(limit), settings.CHAT_PAGE_MAX))


def messages_page(
    *, room: Room, after: int | None = None, before: int | None = None, limit: int | None = None
) -> tuple[list[Message], bool]:
    """A page of messages, always oldest first, and whether more exist beyond it in the
    direction read: newer for `after`, older for `before` or the newest page.

    Each read is one range scan of the (room, seq) unique index; one extra row is
    fetched to answer has_more without a count."""
    limit = clamp_limit(limit)
    if after is not None:
        rows = list(_messages(room).filter(seq__gt=after).order_by("seq")[: limit + 1])
        return rows[:limit], len(rows) > limit
    query = _messages(room)
    if before is not None:
        query = query.filter(seq__lt=before)
    rows = list(query.order_by("-seq")[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    rows.reverse()
    return rows, has_more


def membership_with_room(*, room_id: int, user_id: int) -> Membership | None:
    """The user's membership of the room with its room attached (as select_related
    would), or None. Every join and every batch of posts reads it: one raw query,
    because the ORM's compiler cost more than the round trip (about 2x here); the rows
    go through the same converters as the ORM's, so both databases give the same
    values."""
    room_fields, member_fields = Room._meta.concrete_fields, Membership._meta.concrete_fields
    q = connection.ops.quote_name
    columns = raw_rows.columns("r", room_fields) + raw_rows.columns("m", member_fields)
    sql = (
        f"SELECT {', '.join(columns)} FROM {q(Room._meta.db_table)} r"
        f" JOIN {q(Membership._meta.db_table)} m ON m.{q('room_id')} = r.{q('id')}"
        f" WHERE r.{q('id')} = %s AND m.{q('user_id')} = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [room_id, user_id])
        row = cursor.fetchone()
    if row is None:
        return None
    room = raw_rows.from_row(Room, room_fields, row[: len(room_fields)])
    membership = raw_rows.from_row(Membership, member_fields, row[len(room_fields) :])
    membership.room = room
    return membership


def room_last_seq(*, room_id: int) -> int:
    """The room's newest seq (0: no message, or no such room). A join's settle asks
    this first and reads messages only when there are some beyond its cursor; raw SQL
    because the ORM's query compiler costs several times the round trip here."""
    table = connection.ops.quote_name(Room._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT {table}."last_seq" FROM {table} WHERE {table}."id" = %s', [room_id])
        row = cursor.fetchone()
    return row[0] if row else 0


def messages_between(*, room_id: int, after: int, up_to: int) -> list[Message]:
    """Messages with after < seq <= up_to, oldest first: a socket's gap repair."""
    return list(
        Message.objects.filter(room_id=room_id, seq__gt=after, seq__lte=up_to)
        .select_related(*MESSAGE_RELATED)
        .order_by("seq")
    )


def messages_changed_after(
    *, room: Room, rev: int, limit: int | None = None
) -> tuple[list[Message], bool]:
    """Every message whose last change is newer than `rev`, oldest change first."""
    limit = clamp_limit(limit)
    rows = list(_messages(room).filter(rev__gt=rev).order_by("rev")[: limit + 1])
    return rows[:limit], len(rows) > limit


def messages_pinned(*, room: Room) -> list[Message]:
    """The room's pinned messages (at most CHAT_PINS_PER_ROOM), newest pin first, for a
    reader of the room (room_get_visible first). Deleted messages are never pinned."""
    return list(_messages(room).filter(pinned_at__isnull=False).order_by("-pinned_at", "-id"))


def message_replies(
    *, room: Room, seq: int, after: int | None = None, limit: int | None = None
) -> tuple[list[Message], bool]:
    """The replies to message `seq` of a room the caller may read (room_get_visible
    first), oldest first from `after` (a seq), and whether newer replies exist beyond
    the page. A seq that names no message raises MessageNotFound. Two queries: the
    parent, then one range scan of the partial (room, reply_to_seq, seq) index."""
    if not Message.objects.filter(room=room, seq=seq).exists():
        raise MessageNotFound()
    limit = clamp_limit(limit)
    rows = list(
        _messages(room).filter(reply_to_seq=seq, seq__gt=after or 0).order_by("seq")[: limit + 1]
    )
    return rows[:limit], len(rows) > limit


_WORD = re.compile(r"\w+", re.UNICODE)


def search_words(query: str) -> list[str]:
    """The words a search matches, lowercased (at most eight), each as a prefix."""
    return _WORD.findall(query.lower())[:8]


def _full_text_filter(words: list[str]) -> tuple[str, list[str]]:
    """A WHERE fragment matching every word as a prefix, for this database."""
    if connection.vendor == "postgresql":
        tsquery = " & ".join(f"{w}:*" for w in words)
        return "to_tsvector('simple', rooms_message.body) @@ to_tsquery('simple', %s)", [tsquery]
    if connection.vendor == "sqlite":
        match = " ".join(f'"{w}"*' for w in words)
        return (
            "rooms_message.id IN (SELECT rowid FROM rooms_message_fts "
            "WHERE rooms_message_fts MATCH %s)",
            [match],
        )
    raise NotImplementedError(connection.vendor)


def messages_search(*, user: User, query: str, limit: int = 50) -> list[Message]:
    """Messages containing every word of `query` (each also as a prefix: "deplo" finds
    "deploy") in rooms the user may read, newest first; never a private room the user
    is not in, never deleted or system messages. Full-text indexes do the matching:
    PostgreSQL's GIN index or SQLite's FTS5 table (migration 0007)."""
    words = search_words(query)
    if not words:
        return []
    where, params = _full_text_filter(words)
    member_rooms = Membership.objects.filter(user=user).values("room_id")
    return list(
        Message.objects.filter(Q(room__kind=Room.Kind.PUBLIC) | Q(room_id__in=member_rooms))
        .filter(deleted=False)
        .exclude(kind=Message.Kind.SYSTEM)
        .extra(where=[where], params=params)
        .select_related(*MESSAGE_RELATED, "room")
        .order_by("-created", "-id")[: clamp_limit(limit)]
    )


def idle_temporary_room_ids(*, idle_before) -> list[int]:
    """Open temporary rooms with no message (or creation) since `idle_before`."""
    return list(
        Room.objects.filter(is_temporary=True, is_archived=False)
        .filter(
            Q(last_message_at__lt=idle_before)
            | Q(last_message_at__isnull=True, created__lt=idle_before)
        )
        .values_list("id", flat=True)
    )


def mentions_for_user(*, user: User, limit: int = 50) -> list[Message]:
    """Messages mentioning the user in rooms they still belong to, newest first."""
    return list(
        Message.objects.filter(mentions__user=user, room__memberships__user=user, deleted=False)
        .select_related(*MESSAGE_RELATED, "room")
        .order_by("-created", "-id")[: clamp_limit(limit)]
    )


def room_members(*, room: Room) -> list[Membership]:
    """Memberships with their users, owners and moderators first, then by username."""
    order = {Membership.Role.OWNER: 0, Membership.Role.MODERATOR: 1, Membership.Role.MEMBER: 2}
    rows = list(Membership.objects.filter(room=room).select_related("user"))
    for row in rows:
        row.room = room  # no query per row for what needs the room (its notify level)
    return sorted(rows, key=lambda m: (order.get(m.role, 3), m.user.username))


def mute_reason(*, room: Room, user: User) -> str:
    """Why the member is muted in the room: the reason given with the latest mute in the
    audit log ("" if none was given)."""
    reason = (
        ModerationAction.objects.filter(
            room=room, target_user=user, action=ModerationAction.Action.MUTE
        )
        .order_by("-created", "-id")
        .values_list("reason", flat=True)
        .first()
    )
    return reason or ""
