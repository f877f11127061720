from __future__ import annotations

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm

from accounts import login_throttle, names, ratelimit, services
from accounts.models import User
from chatsite.client_address import UNKNOWN, client_address
from chatsite.forms import StorableTextMixin
from rooms.errors import InvalidInput


def _name_check(check, *args, **kwargs):
    """Run a rule of accounts/names.py (or services) as a field's validation."""
    try:
        return check(*args, **kwargs)
    except InvalidInput as exc:
        raise forms.ValidationError(exc.detail, code="invalid") from None


class SignupForm(StorableTextMixin, UserCreationForm):
    display_name = forms.CharField(
        label="Display name", max_length=80, required=False, help_text="What others see."
    )

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "display_name")

    def clean_username(self):
        # Django's own check first (the same name in any case), then look-alikes.
        username = super().clean_username()
        if username is None:
            return None
        return _name_check(names.check_new_username, username)

    def clean_display_name(self):
        return _name_check(names.clean_display_name, self.cleaned_data["display_name"], user=None)


class LoginThrottleMixin:
    """Refuses log-in attempts after repeated failures (accounts/login_throttle.py),
    counted by username and client address. Mixed into the site's log-in form and the
    admin's, so both share the throttle with `POST /api/token`."""

    throttled_message = "Too many failed log-ins. Try again in %(seconds)s seconds."

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        address = client_address(self.request) if self.request else UNKNOWN
        try:
            login_throttle.ensure_allowed(username=username, address=address)
        except ratelimit.RateLimited as exc:
            raise forms.ValidationError(
                self.throttled_message, code="throttled", params={"seconds": exc.retry_after}
            ) from exc
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            # A wrong guess counts; the right password refused afterwards (an inactive
            # user, a non-staff user at the admin) is no guess and tells nothing the
            # site's own log-in would not.
            if self.get_user() is None:
                login_throttle.record_failure(username=username, address=address)
            raise
        # Only a real log-in forgets the failures: a form left without a password
        # never reaches authenticate() and must not reset a guesser's count.
        if self.get_user() is not None:
            login_throttle.record_success(username=username, address=address)
        return cleaned


class ThrottledLoginForm(StorableTextMixin, LoginThrottleMixin, AuthenticationForm):
    """Django's log-in form, refusing further attempts after repeated failures."""


class ThrottledAdminLoginForm(StorableTextMixin, LoginThrottleMixin, AdminAuthenticationForm):
    """The admin's log-in form (staff only), under the same throttle."""


class ProfileForm(StorableTextMixin, forms.Form):
    display_name = forms.CharField(label="Display name", max_length=80, required=False)
    bio = forms.CharField(label="Bio", max_length=1000, required=False, widget=forms.Textarea)
    # Judged by services.avatar_set from its bytes alone; `accept` only helps the picker.
    avatar = forms.FileField(
        label="Avatar",
        required=False,
        help_text="A PNG, JPEG, GIF or WebP image; it is shown cropped to a square.",
        widget=forms.FileInput(attrs={"accept": "image/png,image/jpeg,image/gif,image/webp"}),
    )
    remove_avatar = forms.BooleanField(label="Remove avatar", required=False)

    def __init__(self, *args, user: User | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user  # whose profile: their own names are theirs to keep
        if user is None or not user.avatar:
            del self.fields["remove_avatar"]  # nothing to remove

    def clean_display_name(self):
        value = self.cleaned_data["display_name"]
        return _name_check(names.clean_display_name, value, user=self.user)

    def clean_bio(self):
        return _name_check(services.clean_bio, self.cleaned_data["bio"])

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("avatar") and cleaned.get("remove_avatar"):
            self.add_error("avatar", "Upload a new avatar or remove the current one, not both.")
        return cleaned


class TokenForm(StorableTextMixin, forms.Form):
    name = forms.CharField(label="Token name", max_length=80)
