from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin

from accounts import services
from accounts.forms import ThrottledAdminLoginForm
from accounts.models import ApiToken, User
from rooms import moderation
from rooms.errors import ChatError

# The admin's log-in page shares the site's log-in throttle (accounts/login_throttle.py).
admin.site.login_form = ThrottledAdminLoginForm


@admin.register(User)
class ChatUserAdmin(UserAdmin):
    """Django's user editing, except that an account is ended only by the "Deactivate"
    action (moderation.user_deactivate: audited, closes its sockets and tokens now):
    is_active is read-only here and accounts are not deleted."""

    list_display = (
        "username",
        "display_name",
        "email",
        "is_active",
        "is_guest",
        "is_staff",
        "date_joined",
    )
    # Guests (rooms/guests.py) are listed with everyone; "Deactivate" removes one.
    list_filter = ("is_guest", *UserAdmin.list_filter)
    search_fields = ("username", "display_name", "email")
    fieldsets = UserAdmin.fieldsets + (("Chat profile", {"fields": ("display_name", "bio")}),)
    readonly_fields = ("is_active", "is_guest")
    actions = ["deactivate"]

    def has_delete_permission(self, request, obj=None):
        return False  # deleting would skip the audit and leave the user's sockets open

    @admin.action(
        description="Deactivate selected accounts (closes their sockets now)",
        permissions=["change"],
    )
    def deactivate(self, request, queryset):
        count = 0
        for user in queryset:
            if user.pk == request.user.pk:
                self.message_user(request, f"{user}: not your own account.", messages.ERROR)
                continue
            try:
                moderation.user_deactivate(user=user, by=request.user, reason="from the admin")
            except ChatError as exc:
                self.message_user(request, f"{user}: {exc.detail}", messages.ERROR)
                continue
            count += 1
        if count:
            self.message_user(request, f"Deactivated: {count}.", messages.SUCCESS)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are made by their users (services.token_create shows the secret once);
    here they are only viewed and revoked, through services.token_revoke, which closes
    every connection they opened."""

    list_display = ("name", "user", "prefix", "created", "last_used")
    search_fields = ("name", "user__username")
    readonly_fields = ("key_hash", "prefix", "created", "last_used")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def delete_model(self, request, obj):
        services.token_revoke(user=obj.user, token_id=obj.pk)

    def delete_queryset(self, request, queryset):
        for token in queryset.select_related("user"):
            services.token_revoke(user=token.user, token_id=token.pk)
