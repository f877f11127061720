"""The Django admin as a moderation desk. Every action calls the same moderation
services as the room page and the API, so it is recorded in the audit log and takes
effect live in every open browser.

Rows of the domain are read-only here: a change form, an add form or a hard delete
would write around the services (no audit, no live event, no seq), so those pages
are refused and the actions are the only way to change anything. An action needs the
model's "Can change" permission; the services then decide, as everywhere else, what
that user may do in that room."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth import get_permission_codename
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html

from rooms import moderation, services
from rooms.errors import ChatError
from rooms.models import (
    Attachment,
    Membership,
    Message,
    MessageRevision,
    ModerationAction,
    Report,
    Room,
    RoomBan,
)


def _each(modeladmin, request, queryset, action, done: str) -> None:
    count = 0
    for obj in queryset:
        try:
            action(obj)
            count += 1
        except ChatError as exc:
            modeladmin.message_user(request, f"{obj}: {exc.detail}", messages.ERROR)
    if count:
        modeladmin.message_user(request, f"{done}: {count}.", messages.SUCCESS)


def _room_action(description: str, call, done: str):
    """An admin action calling `call(room, by)` for each selected room (a service)."""

    @admin.action(description=description, permissions=["moderate"])
    def action(modeladmin, request, queryset):
        _each(modeladmin, request, queryset, lambda room: call(room, request.user), done)

    return action


class ThroughServices:
    """A ModelAdmin whose rows are only viewed: no add, change or delete pages. Its
    actions (permissions=["moderate"]) call the services."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_moderate_permission(self, request):
        codename = get_permission_codename("change", self.opts)
        return request.user.has_perm(f"{self.opts.app_label}.{codename}")


class MembershipInline(admin.TabularInline):
    """The room's members, read-only: joining, roles, mutes and bans go through the
    services (the membership list's actions)."""

    model = Membership
    extra = 0
    can_delete = False
    fields = ("user", "role", "joined", "last_read_seq", "muted_until")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Room)
class RoomAdmin(ThroughServices, admin.ModelAdmin):
    """Rooms are made by users (services.room_create); name and topic change through
    services.room_update, the flags through the actions below."""

    list_display = (
        "name",
        "kind",
        "member_count",
        "last_seq",
        "last_message_at",
        "is_locked",
        "is_archived",
    )
    list_filter = ("kind", "is_locked", "is_archived", "announce_joins", "open_to_guests")
    search_fields = ("name", "slug", "topic")
    readonly_fields = ("last_seq", "last_rev", "last_message_at", "direct_key", "created")
    inlines = [MembershipInline]
    actions = ["lock_rooms", "unlock_rooms", "archive_rooms", "open_to_guests", "close_to_guests"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_member_count=Count("memberships"))

    @admin.display(ordering="_member_count", description="members")
    def member_count(self, room):
        return room._member_count

    lock_rooms = _room_action(
        "Lock selected rooms (read-only)",
        lambda room, by: moderation.room_lock(room=room, by=by, locked=True),
        "Locked",
    )
    unlock_rooms = _room_action(
        "Unlock selected rooms",
        lambda room, by: moderation.room_lock(room=room, by=by, locked=False),
        "Unlocked",
    )
    open_to_guests = _room_action(
        "Open selected public rooms to guests",
        lambda room, by: services.room_update(room=room, by=by, open_to_guests=True),
        "Opened to guests",
    )
    close_to_guests = _room_action(
        "Close selected rooms to guests",
        lambda room, by: services.room_update(room=room, by=by, open_to_guests=False),
        "Closed to guests",
    )
    archive_rooms = _room_action(
        "Archive selected rooms",
        lambda room, by: moderation.room_archive(room=room, by=by),
        "Archived",
    )


@admin.register(Membership)
class MembershipAdmin(ThroughServices, admin.ModelAdmin):
    """Members join and leave themselves (services.room_join / room_leave); roles,
    mutes and bans change through the actions."""

    list_display = ("room", "user", "role", "joined", "muted_until")
    list_filter = ("role", "room__kind")
    search_fields = ("room__name", "user__username")
    list_select_related = ("room", "user")
    actions = [
        "mute_hour",
        "mute_indefinitely",
        "unmute",
        "ban",
        "appoint_moderator",
        "dismiss_moderator",
    ]

    def _mute(self, request, queryset, minutes):
        _each(
            self,
            request,
            queryset,
            lambda m: moderation.member_mute(
                room=m.room,
                by=request.user,
                username=m.user.username,
                minutes=minutes,
                reason="from the admin",
            ),
            "Muted",
        )

    @admin.action(description="Mute selected members for an hour", permissions=["moderate"])
    def mute_hour(self, request, queryset):
        self._mute(request, queryset, 60)

    @admin.action(description="Mute selected members until lifted", permissions=["moderate"])
    def mute_indefinitely(self, request, queryset):
        self._mute(request, queryset, None)

    @admin.action(description="Unmute selected members", permissions=["moderate"])
    def unmute(self, request, queryset):
        _each(
            self,
            request,
            queryset,
            lambda m: moderation.member_unmute(
                room=m.room, by=request.user, username=m.user.username
            ),
            "Unmuted",
        )

    @admin.action(description="Ban selected members from their rooms", permissions=["moderate"])
    def ban(self, request, queryset):
        _each(
            self,
            request,
            queryset,
            lambda m: moderation.member_ban(
                room=m.room, by=request.user, username=m.user.username, reason="from the admin"
            ),
            "Banned",
        )

    def _set_moderator(self, request, queryset, moderator: bool, done: str) -> None:
        _each(
            self,
            request,
            queryset,
            lambda m: moderation.moderator_set(
                room=m.room, by=request.user, username=m.user.username, moderator=moderator
            ),
            done,
        )

    @admin.action(
        description="Make selected members moderators (room owners only)",
        permissions=["moderate"],
    )
    def appoint_moderator(self, request, queryset):
        self._set_moderator(request, queryset, True, "Appointed")

    @admin.action(
        description="Make selected moderators plain members (room owners only)",
        permissions=["moderate"],
    )
    def dismiss_moderator(self, request, queryset):
        self._set_moderator(request, queryset, False, "Dismissed")


class MessageRevisionInline(admin.TabularInline):
    """Earlier versions of an edited message, for moderators; read-only."""

    model = MessageRevision
    extra = 0
    can_delete = False
    readonly_fields = ("body", "replaced")

    def has_add_permission(self, request, obj=None):
        return False


class AttachmentInline(admin.TabularInline):
    """A message's files, read-only; deleting the message (the action) deletes them."""

    model = Attachment
    fk_name = "message"
    extra = 0
    can_delete = False
    fields = ("name", "size", "content_type", "file_link")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="file")
    def file_link(self, attachment):
        return _file_link(attachment)


def _file_link(attachment) -> str:
    # The permission-checked view: the admin user sees it only if they may read the room.
    url = reverse("rooms:attachment", args=[attachment.pk])
    return format_html('<a href="{}">open</a>', url) if attachment.message_id else "(not sent)"


@admin.register(Message)
class MessageAdmin(ThroughServices, admin.ModelAdmin):
    """Messages are posted by members (services.message_post takes the seq) and kept
    when deleted: the only change here is "Delete", through moderation.message_remove."""

    list_display = ("room", "seq", "author", "kind", "short_body", "created", "deleted")
    list_filter = ("deleted", "kind", "room__kind", "created", "room")
    search_fields = ("body", "author__username", "room__name")
    list_select_related = ("room", "author")
    readonly_fields = (
        "room",
        "seq",
        "rev",
        "author",
        "body",
        "client_id",
        "created",
        "edited_at",
        "deleted",
        "deleted_at",
        "deleted_by",
    )
    date_hierarchy = "created"
    actions = ["delete_live"]
    inlines = [MessageRevisionInline, AttachmentInline]

    @admin.display(description="body")
    def short_body(self, message):
        return message.body[:80]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if not request.user.is_superuser:
            # Private conversations' bodies are for superusers only.
            queryset = queryset.filter(room__kind=Room.Kind.PUBLIC)
        return queryset

    @admin.action(
        description="Delete selected messages (live, for everyone)", permissions=["moderate"]
    )
    def delete_live(self, request, queryset):
        _each(
            self,
            request,
            queryset.select_related("room", "author"),
            lambda m: moderation.message_remove(
                message=m, by=request.user, reason="from the admin"
            ),
            "Deleted",
        )


@admin.register(Attachment)
class AttachmentAdmin(ThroughServices, admin.ModelAdmin):
    """Files sent in rooms (and uploads not sent yet), with who uploaded them where.
    Removing one means deleting its message (the Messages page's action), which takes
    the file with it, live and in the audit log."""

    list_display = (
        "name",
        "room",
        "uploader",
        "size",
        "content_type",
        "message_link",
        "file_link",
        "created",
    )
    list_filter = ("content_type", "room__kind", "created")
    search_fields = ("name", "uploader__username", "room__name")
    list_select_related = ("room", "uploader", "message")
    readonly_fields = (
        "id",
        "room",
        "uploader",
        "message_link",
        "name",
        "size",
        "content_type",
        "width",
        "height",
        "file_link",
        "created",
    )
    exclude = ("message", "file", "thumbnail")
    date_hierarchy = "created"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if not request.user.is_superuser:
            # As for messages: private conversations' files are for superusers only.
            queryset = queryset.filter(room__kind=Room.Kind.PUBLIC)
        return queryset

    @admin.display(description="message")
    def message_link(self, attachment):
        if attachment.message_id is None:
            return "(not sent)"
        url = reverse("admin:rooms_message_change", args=[attachment.message_id])
        return format_html('<a href="{}">{}</a>', url, str(attachment.message))

    @admin.display(description="file")
    def file_link(self, attachment):
        return _file_link(attachment)


@admin.register(RoomBan)
class RoomBanAdmin(ThroughServices, admin.ModelAdmin):
    """Bans are made from the membership list ("Ban", moderation.member_ban) and lifted
    here ("Lift", moderation.member_unban), so both act live and are audited."""

    list_display = ("room", "user", "by", "reason", "created")
    search_fields = ("room__name", "user__username")
    list_select_related = ("room", "user", "by")
    actions = ["unban"]

    @admin.action(description="Lift selected bans", permissions=["moderate"])
    def unban(self, request, queryset):
        _each(
            self,
            request,
            queryset,
            lambda b: moderation.member_unban(
                room=b.room, by=request.user, username=b.user.username
            ),
            "Unbanned",
        )


@admin.register(ModerationAction)
class ModerationActionAdmin(admin.ModelAdmin):
    """Append-only: nobody adds, edits or deletes entries here."""

    list_display = ("created", "actor", "action", "target_user", "room", "reason")
    list_filter = ("action", "created")
    search_fields = ("actor__username", "target_user__username", "room__name", "reason")
    list_select_related = ("actor", "target_user", "room")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    list_display = ("created", "reporter", "reported_message", "reason", "resolved")
    list_filter = ("resolved", "created")
    list_select_related = ("reporter", "message", "message__author", "message__room")
    readonly_fields = ("message", "reporter", "reason", "created")
    actions = ["delete_reported_messages", "dismiss"]

    def has_add_permission(self, request):
        return False  # members report through moderation.message_report

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if not request.user.is_superuser:
            # Like the message list: private conversations are for superusers only.
            queryset = queryset.filter(message__room__kind=Room.Kind.PUBLIC)
        return queryset

    @admin.display(description="message")
    def reported_message(self, report):
        message = report.message
        return f"{message.room.name} #{message.seq} {message.author}: {message.body[:80]}"

    @admin.action(description="Delete the reported messages (live)", permissions=["change"])
    def delete_reported_messages(self, request, queryset):
        _each(
            self,
            request,
            queryset,
            lambda r: moderation.message_remove(
                message=r.message, by=request.user, reason=f"reported: {r.reason}"
            ),
            "Deleted",
        )

    @admin.action(description="Dismiss selected reports", permissions=["change"])
    def dismiss(self, request, queryset):
        count = queryset.update(resolved=True)
        self.message_user(request, f"Dismissed: {count}.", messages.SUCCESS)
