"""The Django admin as a moderation desk. Every action calls the same moderation
services as the room page and the API, so it is recorded in the audit log and takes
effect live in every open browser."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Count

from rooms import moderation
from rooms.errors import ChatError
from rooms.models import (
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


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("user",)
    readonly_fields = ("joined", "last_read_seq", "muted_until")


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "kind",
        "member_count",
        "last_seq",
        "last_message_at",
        "is_locked",
        "is_archived",
    )
    list_filter = ("kind", "is_locked", "is_archived", "announce_joins")
    search_fields = ("name", "slug", "topic")
    readonly_fields = ("last_seq", "last_rev", "last_message_at", "direct_key", "created")
    inlines = [MembershipInline]
    actions = ["lock_rooms", "unlock_rooms", "archive_rooms"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_member_count=Count("memberships"))

    @admin.display(ordering="_member_count", description="members")
    def member_count(self, room):
        return room._member_count

    @admin.action(description="Lock selected rooms (read-only)")
    def lock_rooms(self, request, queryset):
        _each(
            self,
            request,
            queryset,
            lambda r: moderation.room_lock(room=r, by=request.user, locked=True),
            "Locked",
        )

    @admin.action(description="Unlock selected rooms")
    def unlock_rooms(self, request, queryset):
        _each(
            self,
            request,
            queryset,
            lambda r: moderation.room_lock(room=r, by=request.user, locked=False),
            "Unlocked",
        )

    @admin.action(description="Archive selected rooms")
    def archive_rooms(self, request, queryset):
        _each(
            self,
            request,
            queryset,
            lambda r: moderation.room_archive(room=r, by=request.user),
            "Archived",
        )


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("room", "user", "role", "joined", "muted_until")
    list_filter = ("role", "room__kind")
    search_fields = ("room__name", "user__username")
    autocomplete_fields = ("user", "room")
    list_select_related = ("room", "user")
    actions = ["mute_hour", "mute_indefinitely", "unmute", "ban"]

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

    @admin.action(description="Mute selected members for an hour")
    def mute_hour(self, request, queryset):
        self._mute(request, queryset, 60)

    @admin.action(description="Mute selected members until lifted")
    def mute_indefinitely(self, request, queryset):
        self._mute(request, queryset, None)

    @admin.action(description="Unmute selected members")
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

    @admin.action(description="Ban selected members from their rooms")
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


class MessageRevisionInline(admin.TabularInline):
    """Earlier versions of an edited message, for moderators; read-only."""

    model = MessageRevision
    extra = 0
    can_delete = False
    readonly_fields = ("body", "replaced")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
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
    inlines = [MessageRevisionInline]

    @admin.display(description="body")
    def short_body(self, message):
        return message.body[:80]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if not request.user.is_superuser:
            # Private conversations' bodies are for superusers only.
            queryset = queryset.filter(room__kind=Room.Kind.PUBLIC)
        return queryset

    def has_delete_permission(self, request, obj=None):
        return False  # messages are flagged deleted (kept for the record), never removed

    @admin.action(description="Delete selected messages (live, for everyone)")
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


@admin.register(RoomBan)
class RoomBanAdmin(admin.ModelAdmin):
    list_display = ("room", "user", "by", "reason", "created")
    search_fields = ("room__name", "user__username")
    list_select_related = ("room", "user", "by")
    actions = ["unban"]

    def has_add_permission(self, request):
        return False  # ban from the membership list, so it acts live and is audited

    @admin.action(description="Lift selected bans")
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

    @admin.display(description="message")
    def reported_message(self, report):
        message = report.message
        return f"{message.room.name} #{message.seq} {message.author}: {message.body[:80]}"

    @admin.action(description="Delete the reported messages (live)")
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

    @admin.action(description="Dismiss selected reports")
    def dismiss(self, request, queryset):
        count = queryset.update(resolved=True)
        self.message_user(request, f"Dismissed: {count}.", messages.SUCCESS)
