from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q


class Room(models.Model):
    class Kind(models.TextChoices):
        PUBLIC = "public"
        DIRECT = "direct"
        CONFERENCE = "conference"

    name = models.CharField(max_length=80)
    slug = models.SlugField(max_length=100, unique=True)
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.PUBLIC)
    topic = models.CharField(max_length=250, blank=True)
    creator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)
    # The seq of the newest message: posting locks the row and takes last_seq + 1.
    last_seq = models.PositiveBigIntegerField(default=0)
    # The room's change counter: every insert, edit, deletion or reaction takes the next
    # value and stamps it on the message, so clients can ask for "changed after".
    last_rev = models.PositiveBigIntegerField(default=0)
    last_message_at = models.DateTimeField(null=True, blank=True)
    # For direct rooms only: "<smaller user id>:<larger user id>". Unique, so two people
    # starting a chat with each other at once get one room.
    direct_key = models.CharField(max_length=50, null=True, blank=True, unique=True)
    is_archived = models.BooleanField(default=False)
    # Read-only for everyone but its owner and moderators until unlocked.
    is_locked = models.BooleanField(default=False)
    # A temporary public room closes itself after CHAT_EPHEMERAL_IDLE idle seconds.
    is_temporary = models.BooleanField(default=False)
    # Whether a public room posts "alice joined" on a first join. Rooms made in the
    # browser start with it on; rooms made through the API (scripts, bots) start quiet.
    announce_joins = models.BooleanField(default=False)
    # Guests (rooms/guests.py) may join a public room only when its owner opened it to them.
    open_to_guests = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["kind", "name"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"

    @property
    def is_private(self) -> bool:
        return self.kind != self.Kind.PUBLIC


class NotifyLevel(models.TextChoices):
    """Which messages of a room notify a member (desktop notification, title count)."""

    # The labels are the side panel's options.
    ALL = "all", "Everything"
    MENTIONS = "mentions", "Mentions only"
    NOTHING = "nothing", "Nothing"


def notify_level_for(*, room_kind: str, stored: str) -> str:
    """The one rule for a member's effective level: their own choice, else the room's
    default (every message of a private chat or conference; only mentions in a public
    room, where most talk is not addressed to the reader)."""
    if stored:
        return stored
    return NotifyLevel.MENTIONS if room_kind == Room.Kind.PUBLIC else NotifyLevel.ALL


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner"
        MODERATOR = "moderator"
        MEMBER = "member"

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    joined = models.DateTimeField(auto_now_add=True)
    # The newest seq this member has read; it only moves forward.
    last_read_seq = models.PositiveBigIntegerField(default=0)
    # A 1:1 room cannot be left, only hidden from the list until a new message arrives.
    hidden = models.BooleanField(default=False)
    # Set by a moderator: the member's sends are refused until then.
    muted_until = models.DateTimeField(null=True, blank=True)
    # The member's own choice of NotifyLevel; blank: the room kind's default (read it
    # through `effective_notify_level`, never directly).
    notify_level = models.CharField(
        max_length=8, choices=NotifyLevel.choices, blank=True, default=""
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["room", "user"], name="membership_unique_room_user")
        ]
        indexes = [models.Index(fields=["user", "room"])]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.room_id} ({self.role})"

    @property
    def effective_notify_level(self) -> str:
        return notify_level_for(room_kind=self.room.kind, stored=self.notify_level)


class Message(models.Model):
    class Kind(models.TextChoices):
        TEXT = "text"
        ACTION = "action"
        SYSTEM = "system"

    # No index of its own: the unique (room, seq) index below serves every lookup by
    # room, and a second one would only cost writes (and tempt the planner into a sort).
    room = models.ForeignKey(
        Room, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    seq = models.PositiveBigIntegerField()
    rev = models.PositiveBigIntegerField()
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.TEXT)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="messages",
    )
    body = models.TextField()
    # NULL, not "", when absent: the unique (room, author, client_id) skips NULLs.
    client_id = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted = models.BooleanField(default=False)
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # {"👍": ["alice", "bob"]}: a copy of the Reaction rows kept with the message, so a
    # page of history needs no second query. Written only under the room's row lock.
    reactions = models.JSONField(default=dict, blank=True)
    # The seq of the message this one replies to, in the same room (null: not a reply).
    # A seq rather than a foreign key: the wire shape is the seq, so a page of messages
    # needs no join, and seqs are never reused (messages are only ever soft-deleted).
    reply_to_seq = models.PositiveBigIntegerField(null=True, blank=True)
    # Threads (rooms/threads.py). On a reply: written in a thread and shown only there
    # (still delivered in the room's stream; old clients see a plain reply).
    thread_only = models.BooleanField(default=False)
    # On a message that has replies: how many (deleted ones not counted) and the newest
    # one's seq and time. Kept by rooms/threads.py in the transaction that changes them,
    # so a page of history shows the counts without a query of its own.
    reply_count = models.PositiveIntegerField(default=0)
    last_reply_seq = models.PositiveBigIntegerField(null=True, blank=True)
    last_reply_at = models.DateTimeField(null=True, blank=True)
    # Pinned to the room's "Pinned" list (rooms/changes.py message_pin_set): when and by
    # whom; both null when not pinned. Deleting a message unpins it.
    pinned_at = models.DateTimeField(null=True, blank=True)
    pinned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # [{"id", "name", "size", "content_type", "width", "height"}]: a copy of the
    # message's Attachment rows (rooms/attachments.py), kept with it as reactions are,
    # so a page of history needs no second query. Written once, when the message is
    # posted; emptied when it is deleted.
    attachments = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [
            # Serves every history read: newest page (seq desc), after= and before=.
            models.UniqueConstraint(fields=["room", "seq"], name="message_unique_room_seq"),
            models.UniqueConstraint(
                fields=["room", "author", "client_id"],
                condition=Q(client_id__isnull=False),
                name="message_unique_client_id",
            ),
        ]
        indexes = [
            models.Index(fields=["room", "rev"], name="message_room_rev"),
            # A message's replies in seq order; partial, so posts that reply to nothing
            # (nearly all) cost it no write.
            models.Index(
                fields=["room", "reply_to_seq", "seq"],
                condition=Q(reply_to_seq__isnull=False),
                name="message_room_replies",
            ),
            # A room's pinned messages, newest pin first; partial, so the many messages
            # never pinned cost it nothing.
            models.Index(
                fields=["room", "pinned_at"],
                condition=Q(pinned_at__isnull=False),
                name="message_room_pins",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} in {self.room_id}"


class RoomBan(models.Model):
    """A user banned from a public room: removed, and refused until unbanned."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="bans")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=500, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["room", "user"], name="ban_unique_room_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} banned from {self.room}"


class ModerationAction(models.Model):
    """The append-only audit log: who did what, to whom, where, when, and why."""

    class Action(models.TextChoices):
        DELETE_MESSAGE = "delete_message"
        MUTE = "mute"
        UNMUTE = "unmute"
        BAN = "ban"
        UNBAN = "unban"
        LOCK = "lock"
        UNLOCK = "unlock"
        ARCHIVE = "archive"
        APPOINT = "appoint_moderator"
        DISMISS = "dismiss_moderator"
        DEACTIVATE = "deactivate_user"
        PIN = "pin_message"
        UNPIN = "unpin_message"

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=20, choices=Action.choices)
    room = models.ForeignKey(
        Room, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    target_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    message = models.ForeignKey(
        "Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=500, blank=True)
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"{self.actor} {self.action} ({self.created:%Y-%m-%d %H:%M})"


class Report(models.Model):
    """A member's report of a message, for the moderators in the admin."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="reports")
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    reason = models.CharField(max_length=500)
    created = models.DateTimeField(auto_now_add=True)
    resolved = models.BooleanField(default=False)

    class Meta:
        ordering = ["resolved", "-created"]
        constraints = [
            models.UniqueConstraint(
                fields=["message", "reporter"], name="report_unique_per_reporter"
            )
        ]

    def __str__(self) -> str:
        return f"Report on {self.message} by {self.reporter}"


class MessageRevision(models.Model):
    """A message's body before an edit; moderators can read the history."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="revisions")
    body = models.TextField()
    replaced = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["replaced", "id"]

    def __str__(self) -> str:
        return f"revision of {self.message_id} from {self.replaced:%Y-%m-%d %H:%M}"


class Reaction(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="reaction_rows")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    emoji = models.CharField(max_length=32)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["message", "user", "emoji"], name="reaction_unique_per_user"
            )
        ]

    def __str__(self) -> str:
        return f"{self.emoji} by {self.user_id} on {self.message_id}"


class Mention(models.Model):
    """@username in a message, for a member of its room: highlighted, counted in the
    room list and listed on the Mentions page."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="mentions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="+")
    seq = models.PositiveBigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["message", "user"], name="mention_unique_per_user")
        ]
        indexes = [models.Index(fields=["user", "room", "seq"])]

    def __str__(self) -> str:
        return f"@{self.user_id} in {self.message_id}"


def _attachment_token() -> str:
    return secrets.token_urlsafe(24)


class Attachment(models.Model):
    """A file uploaded into a room: first on its own (an upload, `message` null), then
    part of one message. The id is a random token, so a file's URL cannot be guessed;
    every request for it is still checked against the room (rooms.access)."""

    id = models.CharField(primary_key=True, max_length=40, default=_attachment_token)
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="+")
    uploader = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    message = models.ForeignKey(
        Message,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="attachment_rows",
    )
    name = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField()
    # Sniffed from the bytes (rooms/attachments.py), never the client's word.
    content_type = models.CharField(max_length=100)
    # Storage names (Django's default storage), not URLs: files are served by a view.
    file = models.CharField(max_length=255)
    thumbnail = models.CharField(max_length=255, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["uploader", "created"], name="attachment_uploader_day"),
            models.Index(
                fields=["created"],
                condition=Q(message__isnull=True),
                name="attachment_unused",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.size} bytes) in {self.room_id}"

    @property
    def is_image(self) -> bool:
        return bool(self.thumbnail)
