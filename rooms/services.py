"""Every write to rooms, memberships and messages.

Each service owns its transaction and announces what it changed through rooms.realtime.events,
which sends only after commit. Roles and membership are enforced here, so the pages,
the API and the socket cannot disagree.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from functools import lru_cache

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.text import slugify

from accounts import names, ratelimit
from accounts import selectors as account_selectors
from accounts.models import User
from rooms import access, formatting, selectors, threads, wire
from rooms import attachments as attachments_module
from rooms.errors import (
    Banned,
    ChatError,
    Forbidden,
    InvalidInput,
    RateLimitedError,
    RoomNotFound,
)
from rooms.input_checks import refuse_control_characters
from rooms.models import (
    Membership,
    Mention,
    Message,
    NotifyLevel,
    Room,
    RoomBan,
    notify_level_for,
)
from rooms.realtime import events

CLIENT_ID_MAX = 64
UNREAD = object()  # a membership "not read yet", unlike None ("not a member")
TOPIC_MAX_LENGTH = 250


def clean_body(body: object) -> str:
    if not isinstance(body, str):
        raise InvalidInput("body must be a string.")
    body = body.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not body:
        raise InvalidInput("body must not be empty.")
    limit = settings.CHAT_MESSAGE_MAX_LENGTH
    if len(body) > limit:
        raise InvalidInput(f"body is {len(body)} characters; the limit is {limit}.")
    # \r is gone by now (newlines normalised above), so only real controls are refused.
    return refuse_control_characters(body, field="body")


def clean_client_id(client_id: object) -> str | None:
    if client_id is None:
        return None
    if not isinstance(client_id, str) or not 1 <= len(client_id) <= CLIENT_ID_MAX:
        raise InvalidInput(f"client_id must be a string of 1 to {CLIENT_ID_MAX} characters.")
    return client_id


def clean_reply_to(reply_to: object) -> int | None:
    """None, or a positive integer (a seq); whether that message exists is checked when
    the new message takes its seq. Socket frames pass their raw value here."""
    if reply_to is None:
        return None
    if isinstance(reply_to, bool) or not isinstance(reply_to, int) or reply_to < 1:
        raise InvalidInput("reply_to must be the seq of a message (a positive integer) or null.")
    return reply_to


def clean_room_name(name: object) -> str:
    if not isinstance(name, str):
        raise InvalidInput("name must be a string.")
    # Checked before whitespace is collapsed: str.split() takes \x1c-\x1f and \x85 for
    # spaces, and they must be refused, not quietly turned into them.
    name = " ".join(refuse_control_characters(name, field="name").split())
    limit = settings.CHAT_ROOM_NAME_MAX_LENGTH
    if not 1 <= len(name) <= limit:
        raise InvalidInput(f"name must be 1 to {limit} characters.")
    return name


# Serialises the check-then-write of public room names on PostgreSQL (a transaction-level
# advisory lock, released at commit); SQLite lets one writer at a time anyway.
_PUBLIC_NAME_LOCK = 0x43484154  # "CHAT"


@lru_cache(maxsize=4096)
def _room_name_keys(name: str) -> tuple[str, str]:
    return names.keys(name)


def refuse_public_name_clash(*, name: str, exclude_pk: int | None = None) -> None:
    """InvalidInput when an open (not archived) public room other than `exclude_pk` has
    a name equal to `name` ignoring case and look-alikes: the TR39 skeleton keys of
    usernames (accounts.names), so "dev", "DEV" and "Dеv" (a Cyrillic е) all meet
    "Dev". Call it inside the transaction that writes the name: it takes the lock that
    keeps two such transactions from both passing. Rooms that already share a name
    keep it; conferences and 1:1 chats are never checked."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_PUBLIC_NAME_LOCK])
    folded, cased = _room_name_keys(name)
    if not folded:
        return
    others = Room.objects.filter(kind=Room.Kind.PUBLIC, is_archived=False)
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    for other in others.values_list("name", flat=True).iterator():
        other_folded, other_cased = _room_name_keys(other)
        if folded == other_folded or cased == other_cased:
            raise InvalidInput(f"A public room named '{other}' already exists.")


def clean_topic(topic: object) -> str:
    """A room topic: one line of at most TOPIC_MAX_LENGTH characters (may be empty)."""
    if not isinstance(topic, str) or len(topic) > TOPIC_MAX_LENGTH:
        raise InvalidInput(f"topic must be a string of at most {TOPIC_MAX_LENGTH} characters.")
    return " ".join(refuse_control_characters(topic, field="topic").split())


def unique_slug(name: str) -> str:
    base = slugify(name)[:60] or "room"
    slug = base
    while Room.objects.filter(slug=slug).exists():
        slug = f"{base}-{uuid.uuid4().hex[:6]}"
    return slug


def _users_by_username(usernames: list[str]) -> list[User]:
    """The users named, in order; raises InvalidInput naming every unknown one."""
    if not isinstance(usernames, list) or not all(isinstance(u, str) for u in usernames):
        raise InvalidInput("usernames must be a list of strings.")
    wanted = list(dict.fromkeys(u.strip() for u in usernames if u.strip()))
    # Guests have no private rooms: they are never found here (rooms.access).
    found = {
        u.username: u
        for u in User.objects.filter(username__in=wanted, is_active=True, is_guest=False)
    }
    unknown = [u for u in wanted if u not in found]
    if unknown:
        raise InvalidInput(f"Unknown user: {', '.join(unknown)}.")
    return [found[u] for u in wanted]


@dataclass
class Draft:
    """One message to post, as a front door received it (raw values: message_post
    checks their types)."""

    body: object
    client_id: object = None
    reply_to: object = None
    attachments: object = None
    thread_only: object = None


@dataclass
class _Entry:
    """A checked draft, ready to be stored."""

    body: str
    client_id: str | None = None
    reply_to: int | None = None
    upload_ids: list = field(default_factory=list)
    thread_only: bool = False
    files: list = field(default_factory=list)


def _append_message(
    *,
    room: Room,
    author: User | None,
    body: str,
    kind: str,
    client_id: str | None = None,
    reply_to: int | None = None,
    files: list | None = None,
    thread_only: bool = False,
) -> Message:
    """Insert the room's next message; see _append_messages."""
    entry = _Entry(
        body=body,
        client_id=client_id,
        reply_to=reply_to,
        files=files or [],
        thread_only=thread_only,
    )
    return _append_messages(room=room, author=author, entries=[entry], kind=kind)[0]


def _append_messages(
    *, room: Room, author: User | None, entries: list[_Entry], kind: str
) -> list[Message]:
    """Insert the room's next messages, in order. Must run inside a transaction; locks
    the room row so seqs are taken one batch at a time (on SQLite the IMMEDIATE
    transaction does that). However many entries: one UPDATE takes their seqs and
    revs, one INSERT stores them, one UPDATE moves the author's read position.

    A `reply_to` (a positive int) must name an earlier message of the room. Seqs run
    1, 2, 3 ... with no gaps and messages are never removed (only marked deleted), so
    every seq below the new one exists: the check costs no query, and raising here rolls
    back the seqs just taken. A reply also counts on its parent (rooms.threads), which
    takes the rev after the reply's."""
    now = timezone.now()
    revs = [threads.revs_for_insert(reply_to=e.reply_to) for e in entries]
    last_seq, last_rev = _take_next_seq(
        room_id=room.pk, now=now, revs=sum(revs), count=len(entries)
    )
    seq, rev = last_seq - len(entries) + 1, last_rev - sum(revs) + 1
    messages = []
    for entry, taken in zip(entries, revs, strict=True):
        if entry.reply_to is not None and entry.reply_to >= seq:
            raise InvalidInput("reply_to names no message in this room.")
        messages.append(
            Message(
                room=room,
                seq=seq,
                rev=rev,
                kind=kind,
                author=author,
                body=entry.body,
                client_id=entry.client_id,
                reply_to_seq=entry.reply_to,
                attachments=attachments_module.summaries(entry.files),
                thread_only=entry.thread_only,
            )
        )
        seq, rev = seq + 1, rev + taken
    room.last_seq, room.last_rev = last_seq, last_rev
    room.last_message_at = now
    Message.objects.bulk_create(messages)
    notify_levels = None
    for message, entry in zip(messages, entries, strict=True):
        attachments_module.attach(uploads=entry.files, message=message)
        events.message_created(message)
        if entry.reply_to is not None:
            threads.reply_added(reply=message, parent_rev=message.rev + 1)
        if kind != Message.Kind.SYSTEM:
            _record_mentions(message)
        if room.is_private:
            if notify_levels is None:
                notify_levels = selectors.room_member_notify_levels(room=room)
            events.room_activity(
                room_id=room.id,
                notify_levels=notify_levels,
                summary={
                    "seq": message.seq,
                    "room_kind": room.kind,
                    "message": wire.message_dict(message),
                },
            )
    if author is not None:
        # Your own message is read by you.
        Membership.objects.filter(room=room, user=author).update(last_read_seq=last_seq)
    if room.kind == Room.Kind.DIRECT:
        Membership.objects.filter(room=room, hidden=True).update(hidden=False)
    return messages


def _take_next_seq(*, room_id: int, now, revs: int = 1, count: int = 1) -> tuple[int, int]:
    """Advance the room's seq (by `count`) and change counter (by `revs`) in one
    statement and return the new values (the last of those taken).
    The UPDATE locks the row until the transaction ends, so concurrent posts take
    seqs one at a time (PostgreSQL and SQLite >= 3.35 both have RETURNING)."""
    table = connection.ops.quote_name(Room._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET last_seq = last_seq + %s, last_rev = last_rev + %s, "
            "last_message_at = %s WHERE id = %s RETURNING last_seq, last_rev",
            [count, revs, connection.ops.adapt_datetimefield_value(now), room_id],
        )
        row = cursor.fetchone()
    if row is None:
        raise RoomNotFound()
    return row[0], row[1]


def _record_mentions(message: Message) -> None:
    names = formatting.mentioned_usernames(message.body)
    if not names:
        return
    # (user id, their stored level) of the members named: one query, as before.
    mentioned = list(
        Membership.objects.filter(room_id=message.room_id, user__username__in=names)
        .exclude(user_id=message.author_id)
        .values_list("user_id", "notify_level")
    )
    Mention.objects.bulk_create(
        [
            Mention(message=message, user_id=user_id, room_id=message.room_id, seq=message.seq)
            for user_id, _ in mentioned
        ],
        ignore_conflicts=True,
    )
    for user_id, stored in mentioned:
        level = notify_level_for(room_kind=message.room.kind, stored=stored)
        events.mentioned(user_id=user_id, message=message, notify_level=level)


def post_system_message(*, room: Room, body: str) -> Message:
    return _append_message(room=room, author=None, body=body, kind=Message.Kind.SYSTEM)


def _throttle_posting(author: User) -> None:
    """A token bucket per user: CHAT_SEND_BURST messages at once, refilled over
    CHAT_SEND_WINDOW seconds; the socket and the API share it. Guests get
    CHAT_GUEST_SEND_BURST over the same window."""
    burst = settings.CHAT_GUEST_SEND_BURST if author.is_guest else settings.CHAT_SEND_BURST
    try:
        ratelimit.take(
            f"send:{author.pk}",
            burst=burst,
            per_seconds=settings.CHAT_SEND_WINDOW,
        )
    except ratelimit.RateLimited as exc:
        raise RateLimitedError(exc.retry_after) from exc


def throttle(key: str, *, limit: int, per_seconds: int) -> None:
    """At most `limit` actions per `per_seconds` under `key` (shared by every process
    through the cache); RateLimitedError (429, `rate_limited`) beyond it."""
    try:
        ratelimit.take(key, burst=limit, per_seconds=per_seconds)
    except ratelimit.RateLimited as exc:
        raise RateLimitedError(exc.retry_after) from exc


def _ensure_can_post(*, room: Room, author: User, membership: object = UNREAD) -> None:
    """The write rules of rooms.access, on every post whatever the front door; a
    visitor of a public room joins it first (and a locked room still refuses them).
    `membership`: the author's, when the caller read it with the room
    (access.room_and_membership)."""
    if membership is UNREAD:
        membership = selectors.membership_get(user=author, room=room)
    access.check_can_write(user=author, room=room, membership=membership)
    if membership is None:
        membership = _join_public(room=room, user=author)
        access.check_can_write(user=author, room=room, membership=membership)


def message_post(
    *,
    room: Room,
    author: User,
    body: str,
    client_id: str | None = None,
    kind: str = Message.Kind.TEXT,
    reply_to: int | None = None,
    attachments: object = None,
    thread_only: object = None,
) -> tuple[Message, bool]:
    """Store a message and broadcast it after commit. Returns (message, created).

    `attachments` is None or a list of the author's upload ids in this room
    (rooms.attachments.upload_create); they become the message's files. A message
    with files may have an empty body.

    `reply_to` is None or the seq of an earlier message of the same room (deleted ones
    included); anything else raises InvalidInput and stores nothing. `thread_only`
    (None, true or false; true only with reply_to) keeps a reply in its thread
    (rooms.threads). Front doors may pass the client's raw values: types are checked here.

    Idempotent per (room, author, client_id): a repeat returns the original message
    with created=False and broadcasts nothing."""
    draft = Draft(
        body=body,
        client_id=client_id,
        reply_to=reply_to,
        attachments=attachments,
        thread_only=thread_only,
    )
    (outcome,) = messages_post(room=room, author=author, drafts=[draft], kind=kind)
    if isinstance(outcome, ChatError):
        raise outcome
    return outcome


PostOutcome = tuple[Message, bool] | ChatError


def messages_post(
    *,
    room: Room,
    author: User,
    drafts: list[Draft],
    kind: str = Message.Kind.TEXT,
    membership: object = UNREAD,
) -> list[PostOutcome]:
    """Post an author's drafts to a room, in order: message_post's rules for each, and
    one outcome each, in the same order: (message, created) or the ChatError that
    refused it (nothing stored for that one).

    A socket that has several sends waiting hands them over together (a group commit,
    rooms.realtime.send_queue): the room read, the repeat check, the write rules and
    the writes happen once for all of them, in one transaction, so a backlog costs a
    few statements per batch instead of a few per message. When one draft fails inside
    that transaction (a bad `reply_to`, an upload gone, a `client_id` race), it rolls
    back and each draft is stored in a transaction of its own, so one bad draft never
    takes the others with it.

    `membership` is the author's as read with the room (access.room_and_membership),
    which spares a query; left out, it is read here."""
    outcomes: list[PostOutcome | None] = [None] * len(drafts)
    checked: list[tuple[int, _Entry]] = []
    for index, draft in enumerate(drafts):
        try:
            checked.append((index, _checked(draft)))
        except ChatError as exc:
            outcomes[index] = exc
    # A repeat (a client_id already stored) is not looked up first: the unique
    # constraint finds it when it is inserted, and a refusal (rate limit, mute ...)
    # looks for it before it is answered, so a repeat still gets its original.
    fresh: list[tuple[int, _Entry]] = []
    first_with: dict[str, int] = {}  # client_id -> index of its first draft in this call
    repeats: list[tuple[int, int]] = []  # (index, index of the draft it repeats)
    for index, entry in checked:
        if entry.client_id is not None and entry.client_id in first_with:
            repeats.append((index, first_with[entry.client_id]))
            continue
        try:
            _throttle_posting(author)
        except RateLimitedError as exc:
            outcomes[index] = _original_or(exc, room=room, author=author, entry=entry)
            continue
        if entry.client_id is not None:
            first_with[entry.client_id] = index
        fresh.append((index, entry))
    stored = _store(room=room, author=author, fresh=fresh, kind=kind, membership=membership)
    for index, outcome in stored:
        outcomes[index] = outcome
    for index, first in repeats:
        outcome = outcomes[first]
        outcomes[index] = (outcome[0], False) if isinstance(outcome, tuple) else outcome
    return outcomes  # type: ignore[return-value]


def _checked(draft: Draft) -> _Entry:
    # In this order, so a draft wrong in several ways always gets the same error.
    upload_ids = attachments_module.clean_upload_ids(draft.attachments)
    body = _body_beside(upload_ids, draft.body)
    client_id = clean_client_id(draft.client_id)
    reply_to = clean_reply_to(draft.reply_to)
    thread_only = threads.clean_thread_only(draft.thread_only, reply_to=reply_to)
    return _Entry(
        body=body,
        client_id=client_id,
        reply_to=reply_to,
        upload_ids=upload_ids,
        thread_only=thread_only,
    )


def _store(
    *, room: Room, author: User, fresh: list[tuple[int, _Entry]], kind: str, membership: object
) -> list[tuple[int, PostOutcome]]:
    """Store the fresh drafts: together when they all pass, else one by one."""
    if len(fresh) > 1:
        try:
            with transaction.atomic():
                messages = _store_in_transaction(
                    room=room,
                    author=author,
                    entries=[e for _, e in fresh],
                    kind=kind,
                    membership=membership,
                )
            return [(index, (m, True)) for (index, _), m in zip(fresh, messages, strict=True)]
        except (ChatError, IntegrityError):
            pass  # rolled back, nothing sent: each on its own below, with its own outcome
    return [
        (index, _store_one(room=room, author=author, entry=e, kind=kind, membership=membership))
        for index, e in fresh
    ]


def _store_one(
    *, room: Room, author: User, entry: _Entry, kind: str, membership: object
) -> PostOutcome:
    try:
        with transaction.atomic():
            (message,) = _store_in_transaction(
                room=room, author=author, entries=[entry], kind=kind, membership=membership
            )
        return message, True
    except ChatError as exc:
        return _original_or(exc, room=room, author=author, entry=entry)
    except IntegrityError:
        # The same client_id won a race with us; the unique constraint decided.
        existing = _existing(room=room, author=author, client_id=entry.client_id)
        if existing is None:
            raise
        return existing, False


def _original_or(error: ChatError, *, room: Room, author: User, entry: _Entry) -> PostOutcome:
    """A refused draft that repeats a stored message (same client_id) gets its original."""
    existing = _existing(room=room, author=author, client_id=entry.client_id)
    return (existing, False) if existing is not None else error


def _store_in_transaction(
    *, room: Room, author: User, entries: list[_Entry], kind: str, membership: object
) -> list[Message]:
    _ensure_can_post(room=room, author=author, membership=membership)
    for entry in entries:
        entry.files = attachments_module.uploads_for_post(
            room=room, author=author, ids=entry.upload_ids
        )
    return _append_messages(room=room, author=author, entries=entries, kind=kind)


def message_existing(*, room: Room, author: User, client_id: object) -> Message | None:
    """The author's message already sent to the room with this client_id, if any."""
    return _existing(room=room, author=author, client_id=clean_client_id(client_id))


def _body_beside(upload_ids: list[str], body: object) -> str:
    """A message with files may be only its files (empty or missing body)."""
    if upload_ids and (body is None or (isinstance(body, str) and not body.strip())):
        return ""
    return clean_body(body)


def _existing(*, room: Room, author: User, client_id: str | None) -> Message | None:
    if client_id is None:
        return None
    return (
        Message.objects.select_related(*selectors.MESSAGE_RELATED)
        .filter(room=room, author=author, client_id=client_id)
        .first()
    )


def room_create(
    *,
    creator: User,
    name: str | None,
    kind: str = Room.Kind.PUBLIC,
    members: list[str] | None = None,
    topic: str = "",
    temporary: bool = False,
    announce_joins: bool = False,
) -> Room:
    """Create a public room or a conference; the creator becomes its owner. A temporary
    public room closes by itself when idle (see room_close_if_idle); one that announces
    joins posts "alice joined" when someone joins it for the first time."""
    if kind not in (Room.Kind.PUBLIC, Room.Kind.CONFERENCE):
        raise InvalidInput("kind must be 'public' or 'conference'.")
    access.refuse_guest(creator, "create rooms here")  # rooms.guests creates theirs
    throttle(f"rooms:{creator.pk}", limit=settings.CHAT_ROOMS_PER_HOUR, per_seconds=3600)
    others = [u for u in _users_by_username(members or []) if u.pk != creator.pk]
    if kind == Room.Kind.CONFERENCE:
        if len(others) < 2:
            raise InvalidInput("A conference needs at least two other members.")
        if not name or not str(name).strip():
            name = ", ".join(sorted([creator.shown_name] + [u.shown_name for u in others]))[:80]
        _refuse_blocked_company(by=creator, others=others)
    name = clean_room_name(name)
    topic = clean_topic(topic)
    with transaction.atomic():
        if kind == Room.Kind.PUBLIC:
            refuse_public_name_clash(name=name)
        room = Room.objects.create(
            name=name,
            slug=unique_slug(name),
            kind=kind,
            topic=topic,
            creator=creator,
            is_temporary=temporary and kind == Room.Kind.PUBLIC,
            announce_joins=announce_joins and kind == Room.Kind.PUBLIC,
        )
        Membership.objects.create(room=room, user=creator, role=Membership.Role.OWNER)
        Membership.objects.bulk_create([Membership(room=room, user=u) for u in others])
    return room


def _refuse_blocked_company(*, by: User, others: list[User], present: list[User] = ()) -> None:
    """Blocks hold in conferences too: nobody is put in a room with someone who blocked
    them or whom they blocked. Those who blocked `by` are named (as a DM refusal
    does); a block between the others is not (it is theirs to keep private)."""
    blocking = account_selectors.blocked_by_any(sender=by, recipients=others)
    if blocking:
        names = ", ".join(u.username for u in blocking)
        raise Forbidden(f"These users do not accept conversations with you: {names}.")
    if account_selectors.any_blocks_among(users=[by, *others, *present]):
        raise Forbidden("Some of these people have blocked one another; invite them separately.")


def room_join(*, room: Room, user: User) -> Membership:
    """Make the user a member of a public room (a no-op if already one). Private rooms
    are joined only by invitation: a non-member gets RoomNotFound."""
    membership = selectors.membership_get(user=user, room=room)
    if membership is not None:
        return membership
    if room.is_private:
        raise RoomNotFound()
    if RoomBan.objects.filter(room=room, user=user).exists():
        raise Banned("You are banned from this room.")
    with transaction.atomic():
        return _join_public(room=room, user=user)


def _join_public(*, room: Room, user: User) -> Membership:
    """Membership of a public room; in a room that announces joins, the first join posts
    "<user> joined" to its history (opening another tab is presence, not a notice). Runs
    inside a transaction."""
    membership, created = Membership.objects.get_or_create(room=room, user=user)
    if created and room.announce_joins and _may_announce_join(room=room, user=user):
        post_system_message(room=room, body=f"{user.username} joined")
    return membership


def _may_announce_join(*, room: Room, user: User) -> bool:
    """Leaving and rejoining does not spam the room: one notice per interval."""
    try:
        ratelimit.take(
            f"join-notice:{room.pk}:{user.pk}",
            burst=1,
            per_seconds=settings.CHAT_JOIN_NOTICE_INTERVAL,
        )
    except ratelimit.RateLimited:
        return False
    return True


def direct_get_or_create(*, user: User, username: str) -> tuple[Room, bool]:
    """The one 1:1 room between two users, whoever asks first. Race-free: the room's
    unique direct_key decides, not a check-then-insert."""
    if not isinstance(username, str) or not username.strip():
        raise InvalidInput("username is required.")
    access.refuse_guest(user, "start private chats")
    (other,) = _users_by_username([username])
    if other.pk == user.pk:
        raise InvalidInput("You cannot start a private chat with yourself.")
    if account_selectors.has_blocked(blocker=other, user=user):
        raise Forbidden(f"{other.username} does not accept private messages from you.")
    low, high = sorted([user.pk, other.pk])
    key = f"{low}:{high}"
    room = Room.objects.filter(direct_key=key).first()
    if room is not None:
        return room, False
    name = " & ".join(sorted([user.username, other.username]))[:80]
    try:
        with transaction.atomic():
            room = Room.objects.create(
                name=name,
                slug=f"direct-{low}-{high}",
                kind=Room.Kind.DIRECT,
                creator=user,
                direct_key=key,
            )
            Membership.objects.bulk_create(
                [Membership(room=room, user=user), Membership(room=room, user=other)]
            )
    except IntegrityError:
        return Room.objects.get(direct_key=key), False
    return room, True


def _whisper_target(*, sender: User, name: str, online: list[str]) -> User:
    """The user `name` names among those online in the room: a username first (any
    case), then a display name that only one of them has."""
    present = User.objects.filter(username__in=online, is_active=True, is_guest=False)
    wanted = name.strip().lstrip("@").casefold()
    by_username = [u for u in present if u.username.casefold() == wanted]
    if by_username:
        return by_username[0]
    by_name = [u for u in present if u.display_name and u.display_name.casefold() == wanted]
    if len(by_name) == 1:
        return by_name[0]
    if len(by_name) > 1:
        raise InvalidInput(f"More than one person here is called {name[:80]}; use a username.")
    raise InvalidInput(f"{name[:80]} is not in this room.")


def whisper_send(
    *, room: Room, sender: User, to: str, body: object, online: list[str], client_id=None
) -> tuple[Message, User, bool]:
    """A line from `sender` to one other person online in `room` (`online`: the
    usernames with a connection joined to it now), that only the two of them see.

    Refused like a post in the room (muted, banned, locked, archived: rooms.access) and
    when the other person is not there, is the sender, or has blocked the sender. It is
    stored as a message of the two users' private 1:1 room (so it survives a reconnect
    and is in their history; the post rate limit applies once), then heard as a
    `whisper` frame by their connections joined to `room`. Returns (the stored message,
    the recipient, created); a repeated client_id stores nothing and created is False."""
    body = clean_body(body)
    access.refuse_guest(sender, "whisper (a whisper is kept in a private 1:1 chat)")
    access.check_can_write(
        user=sender, room=room, membership=selectors.membership_get(user=sender, room=room)
    )
    target = _whisper_target(sender=sender, name=to, online=online)
    if target.pk == sender.pk:
        raise InvalidInput("You cannot whisper to yourself.")
    if account_selectors.has_blocked(blocker=target, user=sender):
        raise Forbidden(f"{target.username} does not accept private messages from you.")
    direct, _ = direct_get_or_create(user=sender, username=target.username)
    message, created = message_post(room=direct, author=sender, body=body, client_id=client_id)
    events.whisper(
        room_id=room.pk,
        sender=sender,
        target=target,
        message=message,
        ref=message.client_id,
        to_sender_only=not created,
    )
    return message, target, created


def room_invite(*, room: Room, by: User, usernames: list[str]) -> Room:
    """Invite users into a private room. Into a 1:1 room this makes a new conference
    with both people and the invitees (the 1:1 room stays); into a conference it adds
    them, and they see its history. All or nothing."""
    if not selectors.is_member(user=by, room=room):
        raise RoomNotFound()
    if room.kind == Room.Kind.PUBLIC:
        raise InvalidInput("Public rooms need no invitation; anyone can join.")
    access.refuse_guest(by, "invite")
    invitees = _users_by_username(usernames)
    if not invitees:
        raise InvalidInput("Name at least one user to invite.")
    throttle(f"invites:{by.pk}", limit=settings.CHAT_INVITES_PER_HOUR, per_seconds=3600)
    if any(u.pk == by.pk for u in invitees):
        raise InvalidInput(f"You cannot invite yourself ({by.username}).")
    current = set(selectors.room_member_usernames(room=room))
    already = [u.username for u in invitees if u.username in current]
    if already:
        raise InvalidInput(f"Already a member: {', '.join(already)}.")
    blocking = account_selectors.blocked_by_any(sender=by, recipients=invitees)
    if blocking:
        names_blocking = ", ".join(u.username for u in blocking)
        raise Forbidden(f"These users do not accept invitations from you: {names_blocking}.")
    present = list(User.objects.filter(memberships__room=room).exclude(pk=by.pk))
    _refuse_blocked_company(by=by, others=invitees, present=present)
    names = ", ".join(u.username for u in invitees)
    with transaction.atomic():
        if room.kind == Room.Kind.DIRECT:
            members = list(User.objects.filter(memberships__room=room).exclude(pk=by.pk))
            target = room_create(
                creator=by,
                name=None,
                kind=Room.Kind.CONFERENCE,
                members=[u.username for u in members + invitees],
            )
            # Everyone it was started with, not only the newcomers: the other person of
            # the 1:1 chat was added too.
            everyone = [u.username for u in members + invitees]
            notice = f"{by.username} started this conference with {_and_list(everyone)}"
        else:
            target = room
            Membership.objects.bulk_create([Membership(room=room, user=u) for u in invitees])
            notice = f"{by.username} invited {names}"
        post_system_message(room=target, body=notice)
    return target


def _and_list(names: list[str]) -> str:
    """ "bob", "bob and carol", "bob, carol and dave"."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def room_leave(*, room: Room, user: User) -> None:
    """Stop being a member. A 1:1 room cannot be left. The last member leaving a
    conference archives it. The user's open sockets leave the room at once."""
    membership = selectors.membership_get(user=user, room=room)
    if membership is None:
        if room.is_private:
            raise RoomNotFound()
        return
    if room.kind == Room.Kind.DIRECT:
        raise InvalidInput("A private 1:1 chat cannot be left.")
    with transaction.atomic():
        membership.delete()
        # Registered first, so the leaver's sockets drop the room before the notice.
        events.membership_ended(room_id=room.pk, user_id=user.pk)
        if room.kind == Room.Kind.CONFERENCE:
            if Membership.objects.filter(room=room).exists():
                post_system_message(room=room, body=f"{user.username} left")
            else:
                Room.objects.filter(pk=room.pk).update(is_archived=True)


def room_enter(*, user: User, room_id: int) -> tuple[Room, Membership]:
    """What a socket's `join` does: the visibility check, then membership (joining a
    public room makes the user a member). Raises RoomNotFound like every other path.
    Returns the membership too: its read position spares the join a write."""
    room, membership = access.room_and_membership(user=user, room_id=room_id)
    return room, membership or room_join(room=room, user=user)


def room_update(
    *,
    room: Room,
    by: User,
    name: str | None = None,
    topic: str | None = None,
    announce_joins: bool | None = None,
    open_to_guests: bool | None = None,
) -> Room:
    """Rename a conference, set a room's topic, whether a public room announces first
    joins or is open to guests (rooms/guests.py), live for everyone in it. Members of a conference may; in a public room, its
    owner and moderators (and staff)."""
    if room.is_private and not selectors.is_member(user=by, room=room):
        raise RoomNotFound()
    if room.kind == Room.Kind.DIRECT and name is not None:
        raise InvalidInput("A private 1:1 chat cannot be renamed.")
    if room.kind == Room.Kind.PUBLIC and not access.can_moderate(user=by, room=room):
        raise Forbidden("Only the room's owner or moderators can change it.")
    if name is None and topic is None and announce_joins is None and open_to_guests is None:
        raise InvalidInput("Give a name, a topic, announce_joins or open_to_guests.")
    throttle(f"room-updates:{by.pk}", limit=settings.CHAT_ROOM_UPDATES_PER_HOUR, per_seconds=3600)
    # Only what actually changes is saved and announced: a settings form re-sends all.
    fields = []
    changes = []
    if name is not None:
        name = clean_room_name(name)
        if name != room.name:
            room.name = name
            fields.append("name")
            changes.append(f'renamed the room to "{room.name}"')
    if topic is not None:
        topic = clean_topic(topic)
        if topic != room.topic:
            room.topic = topic
            fields.append("topic")
            changes.append(f'set the topic to "{topic}"' if topic else "cleared the topic")
    if announce_joins is not None and room.kind == Room.Kind.PUBLIC:
        if not isinstance(announce_joins, bool):
            raise InvalidInput("announce_joins must be true or false.")
        if announce_joins != room.announce_joins:
            room.announce_joins = announce_joins
            fields.append("announce_joins")
            changes.append("turned join notices " + ("on" if announce_joins else "off"))
    if open_to_guests is not None:
        if room.kind != Room.Kind.PUBLIC:
            raise InvalidInput("Only a public room can be open to guests.")
        if not isinstance(open_to_guests, bool):
            raise InvalidInput("open_to_guests must be true or false.")
        if open_to_guests != room.open_to_guests:
            room.open_to_guests = open_to_guests
            fields.append("open_to_guests")
            changes.append(
                ("opened the room to" if open_to_guests else "closed the room to") + " guests"
            )
    if not fields:
        return room
    with transaction.atomic():
        if "name" in fields and room.kind == Room.Kind.PUBLIC and not room.is_archived:
            refuse_public_name_clash(name=room.name, exclude_pk=room.pk)
        Room.objects.filter(pk=room.pk).update(**{f: getattr(room, f) for f in fields})
        post_system_message(room=room, body=f"{by.username} {' and '.join(changes)}")
        events.room_updated(room_id=room.pk, room=wire.room_dict(room))
    return room


def membership_mark_read(*, room: Room, user: User, seq: int) -> int | None:
    """Move the user's read position forward to `seq` (never back; capped at the room's
    last seq). Returns the new position, or None if it did not move."""
    seq = min(seq, room.last_seq)
    moved = Membership.objects.filter(room=room, user=user, last_read_seq__lt=seq).update(
        last_read_seq=seq
    )
    if not moved:
        return None
    events.read_moved(room_id=room.pk, user_id=user.pk, seq=seq)
    return seq


def direct_hide(*, room: Room, user: User) -> None:
    """Hide a 1:1 room from the user's list until its next message."""
    if room.kind != Room.Kind.DIRECT:
        raise InvalidInput("Only a private 1:1 chat can be hidden; leave a conference instead.")
    if not Membership.objects.filter(room=room, user=user).update(hidden=True):
        raise RoomNotFound()


def room_close_if_idle(*, room_id: int, idle_before) -> bool:
    """Archive a temporary room that has been idle since before `idle_before`, with a
    notice to its members. Safe to run from many processes at once: the conditional
    update under the row lock lets exactly one of them close it. Returns whether this
    call closed it. The caller checks that nobody is connected."""
    with transaction.atomic():
        room = (
            Room.objects.select_for_update()
            .filter(pk=room_id, is_temporary=True, is_archived=False)
            .first()
        )
        if room is None:
            return False
        last_activity = room.last_message_at or room.created
        if last_activity >= idle_before:
            return False
        minutes = max(1, settings.CHAT_EPHEMERAL_IDLE // 60)
        post_system_message(
            room=room, body=f"This temporary room closed after {minutes} minutes without activity."
        )
        Room.objects.filter(pk=room.pk).update(is_archived=True)
        room.is_archived = True
        events.room_updated(room_id=room.pk, room=wire.room_dict(room))
    return True


def membership_set_notify_level(*, room: Room, user: User, level: str | None) -> str:
    """A member chooses which messages of this room notify them: a NotifyLevel value,
    or None for the room kind's default. Returns the effective level. Every socket of
    theirs hears it, so another tab's notifications follow at once."""
    if level is not None and level not in NotifyLevel.values:
        raise InvalidInput(f"level must be one of: {', '.join(NotifyLevel.values)}.")
    stored = level or ""
    with transaction.atomic():
        if not Membership.objects.filter(room=room, user=user).update(notify_level=stored):
            raise RoomNotFound() if room.is_private else InvalidInput("Join the room first.")
        effective = notify_level_for(room_kind=room.kind, stored=stored)
        events.notify_level_changed(room_id=room.pk, user_id=user.pk, level=effective)
    return effective
