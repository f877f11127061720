from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin

from accounts.forms import ThrottledAdminLoginForm
from accounts.models import ApiToken, User
from rooms import moderation

# The admin's log-in page shares the site's log-in throttle (accounts/login_throttle.py).
admin.site.login_form = ThrottledAdminLoginForm


@admin.register(User)
class ChatUserAdmin(UserAdmin):
    list_display = ("username", "display_name", "email", "is_active", "is_staff", "date_joined")
    search_fields = ("username", "display_name", "email")
    fieldsets = UserAdmin.fieldsets + (("Chat profile", {"fields": ("display_name", "bio")}),)
    actions = ["deactivate"]

    @admin.action(description="Deactivate selected accounts (closes their sockets now)")
    def deactivate(self, request, queryset):
        for user in queryset:
            moderation.user_deactivate(user=user, by=request.user, reason="from the admin")
        self.message_user(request, f"Deactivated: {queryset.count()}.", messages.SUCCESS)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "prefix", "created", "last_used")
    search_fields = ("name", "user__username")
    readonly_fields = ("key_hash", "prefix", "created", "last_used")
