from __future__ import annotations

from datetime import UTC, datetime

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone

from accounts import names

# Do-not-disturb turned on with no end: far enough to mean "until turned off", near
# enough that no time-zone conversion of it overflows.
DO_NOT_DISTURB_FOREVER = datetime(9000, 1, 1, tzinfo=UTC)

# The look-alike keys of a name (accounts/names.py), kept beside the name they come from.
_KEYS = {
    "username": ("username_key", "username_key_cased"),
    "display_name": ("display_name_key", "display_name_key_cased"),
}


class User(AbstractUser):
    """A chat user. `display_name` is what others see; `username` is the handle."""

    display_name = models.CharField(max_length=80, blank=True)
    bio = models.TextField(max_length=1000, blank=True)
    # When the user's last socket closed; "online" itself comes from presence.
    last_seen = models.DateTimeField(null=True, blank=True)
    # Hashed skeletons of the names, for the look-alike checks of accounts/names.py.
    username_key = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    username_key_cased = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    display_name_key = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    display_name_key_cased = models.CharField(
        max_length=64, blank=True, db_index=True, editable=False
    )
    # A guest (rooms/guests.py): a name in one room open to guests, no password, no
    # web log-in, no private rooms; deactivated once idle (CHAT_GUEST_IDLE).
    is_guest = models.BooleanField(default=False, db_index=True)
    # A square PNG thumbnail made by accounts.avatars from an upload, under a name the
    # site generates (services.avatar_set); served by accounts.views.avatar.
    avatar = models.ImageField(upload_to="avatars/", blank=True, editable=False)
    # Do not disturb: no desktop notifications until then (null: off). Turned on with
    # no end it holds DO_NOT_DISTURB_FOREVER.
    do_not_disturb_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["display_name"])]

    @property
    def do_not_disturb(self) -> bool:
        until = self.do_not_disturb_until
        return until is not None and until > timezone.now()

    @property
    def shown_name(self) -> str:
        if self.is_guest:
            return f"{self.display_name} (guest)"
        return self.display_name or self.username

    def save(self, *args, **kwargs):
        # Every way a user is saved (sign-up, create_user, the admin, a profile edit)
        # keeps the keys of its names current; a save of other fields leaves them be.
        update_fields = kwargs.get("update_fields")
        fields = set(_KEYS) if update_fields is None else set(_KEYS) & set(update_fields)
        for field in fields:
            key_fields = _KEYS[field]
            for key_field, key in zip(key_fields, names.keys(getattr(self, field)), strict=True):
                setattr(self, key_field, key)
            if update_fields is not None:
                update_fields = [*update_fields, *key_fields]
        if update_fields is not None:
            kwargs["update_fields"] = update_fields
        super().save(*args, **kwargs)


class ApiToken(models.Model):
    """A named, revocable API token. Only a SHA-256 of the secret is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=80)
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8)
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class WebSocketTicket(models.Model):
    """A single-use, short-lived ticket for clients that can send neither cookies nor
    headers on a WebSocket handshake. Stored hashed; redeemed by deleting it."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    key_hash = models.CharField(max_length=64, unique=True)
    expires = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"ticket for {self.user_id} until {self.expires:%H:%M:%S}"


class Block(models.Model):
    """`blocker` does not want private contact from `blocked`: no new 1:1 chat and no
    invitation from them."""

    blocker = models.ForeignKey(User, on_delete=models.CASCADE, related_name="blocks")
    blocked = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["blocker", "blocked"], name="block_unique_pair")
        ]

    def __str__(self) -> str:
        return f"{self.blocker_id} blocks {self.blocked_id}"
