from django.contrib import admin
from django.db.models import Count

from rooms.models import Membership, Message, Room


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("user",)
    readonly_fields = ("joined", "last_read_seq")


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "member_count", "last_seq", "last_message_at", "is_archived")
    list_filter = ("kind", "is_archived")
    search_fields = ("name", "slug", "topic")
    readonly_fields = ("last_seq", "last_rev", "last_message_at", "direct_key", "created")
    inlines = [MembershipInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_member_count=Count("memberships"))

    @admin.display(ordering="_member_count", description="members")
    def member_count(self, room):
        return room._member_count


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("room", "user", "role", "joined")
    list_filter = ("role", "room__kind")
    search_fields = ("room__name", "user__username")
    autocomplete_fields = ("user", "room")


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("room", "seq", "author", "kind", "short_body", "created", "deleted")
    list_filter = ("deleted", "kind", "room__kind", "created")
    search_fields = ("body", "author__username", "room__name")
    list_select_related = ("room", "author")
    readonly_fields = ("room", "seq", "rev", "author", "client_id", "created", "edited_at")
    date_hierarchy = "created"

    @admin.display(description="body")
    def short_body(self, message):
        return message.body[:80]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if not request.user.is_superuser:
            # Private conversations' bodies are for superusers only.
            queryset = queryset.filter(room__kind=Room.Kind.PUBLIC)
        return queryset
