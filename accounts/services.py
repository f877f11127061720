"""Every write to accounts: sign-up, profiles, API tokens and WebSocket tickets."""

from __future__ import annotations

import functools
import hashlib
import logging
import secrets
from datetime import timedelta
from importlib import import_module

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.utils import timezone

from accounts import avatars, names
from accounts.models import DO_NOT_DISTURB_FOREVER, ApiToken, Block, User, WebSocketTicket
from chatsite import raw_rows
from rooms.errors import InvalidInput
from rooms.input_checks import refuse_control_characters
from rooms.realtime import connections, events

logger = logging.getLogger(__name__)

TOKEN_PREFIX = "cst_"
BIO_MAX_LENGTH = 1000


def _hash(secret: str) -> str:
    # surrogatepass: a lone surrogate (a JSON "\ud800" escape) is a wrong secret, not a crash.
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def user_signup(*, username: str, password: str, display_name: str = "") -> User:
    """A new user. Raises InvalidInput for a username too like an existing one, or a
    display name that copies someone's name or holds control characters
    (accounts/names.py)."""
    username = names.check_new_username(username)
    display_name = names.clean_display_name(display_name, user=None)
    return get_user_model().objects.create_user(
        username=username, password=password, display_name=display_name
    )


def profile_update(*, user: User, display_name: str, bio: str) -> User:
    """Change what others see of the user (the profile page and /nick). Raises
    InvalidInput as user_signup does for the display name, and for control characters
    in the bio; nothing is saved then."""
    if user.is_guest:  # a guest's name is unique in its room (rooms/guests.py)
        raise InvalidInput("Guests keep the name they joined with.")
    display_name = names.clean_display_name(display_name, user=user)
    if bio != user.bio:  # /nick passes the bio back as it is, whatever old data holds
        bio = clean_bio(bio)
    user.display_name = display_name
    user.bio = bio
    user.save(update_fields=["display_name", "bio"])
    return user


def clean_bio(bio: object) -> str:
    """A bio: free text of at most BIO_MAX_LENGTH characters, newlines and tabs allowed."""
    if not isinstance(bio, str):
        raise InvalidInput("bio must be a string.")
    bio = bio.replace("\r\n", "\n").replace("\r", "\n").strip()
    if len(bio) > BIO_MAX_LENGTH:
        raise InvalidInput(f"bio must be at most {BIO_MAX_LENGTH} characters.")
    return refuse_control_characters(bio, field="bio")


def avatar_set(*, user: User, upload) -> User:
    """Make the uploaded image the user's avatar: a 128x128 PNG drawn from it, stored
    under a generated name (accounts/avatars.py says what is taken). Raises
    InvalidInput, with nothing stored or changed, for anything that is not an accepted
    image. The previous avatar's file goes once the change has committed."""
    thumbnail = avatars.make_thumbnail(upload)  # before any write
    if user.is_guest:
        raise InvalidInput("Guests have no avatar.")
    user.avatar.save(
        f"{user.pk}-{secrets.token_hex(8)}.png", ContentFile(thumbnail.content), save=False
    )
    try:
        _replace_avatar(user=user, name=user.avatar.name)
    except Exception:
        _delete_file(user.avatar.name)
        user.refresh_from_db(fields=["avatar"])
        raise
    return user


def avatar_remove(*, user: User) -> User:
    """Back to the initials: the avatar's file goes once the change has committed."""
    _replace_avatar(user=user, name="")
    return user


def _replace_avatar(*, user: User, name: str) -> None:
    with transaction.atomic():
        # The stored name, read under lock: two uploads at once each delete the file
        # the other replaced, never one still in use.
        previous = (
            User.objects.select_for_update()
            .filter(pk=user.pk)
            .values_list("avatar", flat=True)
            .first()
        )
        user.avatar.name = name
        user.save(update_fields=["avatar"])
        if previous and previous != name:
            transaction.on_commit(lambda: _delete_file(previous))


def _delete_file(name: str) -> None:
    try:
        User._meta.get_field("avatar").storage.delete(name)
    except OSError:  # a file already gone, or a full disk: not the user's problem
        logger.warning("could not delete avatar file %s", name, exc_info=True)


def token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    """Create a token; the secret is returned once and never stored in the clear."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name.strip() or "token", key_hash=_hash(secret), prefix=secret[:8]
    )
    return token, secret


def token_revoke(*, user: User, token_id: int) -> bool:
    """Delete the token; every connection it opened (sockets, gateway lines, long polls,
    directly or through a ticket) closes after the commit, on every process."""
    with transaction.atomic():
        deleted, _ = ApiToken.objects.filter(user=user, pk=token_id).delete()
        if deleted:
            connections.close_credential_connections(f"token:{token_id}")
    return bool(deleted)


def token_authenticate(*, secret: str) -> User | None:
    """The active user owning this token secret, or None."""
    if not secret or len(secret) > 200:
        return None
    now = timezone.now()
    # Touch last_used at most once a minute: it is shown on the profile, not audited.
    stale_before = connection.ops.adapt_datetimefield_value(now - timedelta(minutes=1))
    select, touch = _token_sql(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(select, [stale_before, _hash(secret)])
        row = cursor.fetchone()
        if row is None:
            return None
        user = raw_rows.from_row(User, User._meta.concrete_fields, row[:-2])
        token_id, stale = row[-2], row[-1]
        if stale:
            cursor.execute(touch, [connection.ops.adapt_datetimefield_value(now), token_id])
    user.chat_credential = f"token:{token_id}"  # what its connections die with
    return user


@functools.cache
def _token_sql(vendor: str) -> tuple[str, str]:
    """Built once per database vendor (the quoting differs): the SELECT of the token's
    active user, then the token's id and whether its last_used is older than the
    parameter; and the UPDATE stamping last_used. Raw SQL: every socket and API request
    with a token runs them, and the ORM's compiler cost more than the round trip."""
    q = connection.ops.quote_name
    user, token = q(User._meta.db_table), q(ApiToken._meta.db_table)
    select = (
        f"SELECT {', '.join(raw_rows.columns('u', User._meta.concrete_fields))}, t.id,"
        f" (t.last_used IS NULL OR t.last_used < %s)"
        f" FROM {user} u JOIN {token} t ON t.user_id = u.id"
        f" WHERE t.key_hash = %s AND u.is_active"
    )
    touch = f"UPDATE {token} SET {q('last_used')} = %s WHERE {q('id')} = %s"
    return select, touch


def ticket_create(*, user: User, credential: str | None = None) -> tuple[str, int]:
    """A single-use ticket. `credential` is what made it ("session:<key>" or
    "token:<id>"): the socket it opens dies with that credential, and the ticket is
    refused once the credential is gone (a log-out, a revoked token)."""
    ttl = settings.CHAT_TICKET_TTL
    secret = secrets.token_urlsafe(32)
    key_hash = _hash(secret)
    WebSocketTicket.objects.create(
        user=user, key_hash=key_hash, expires=timezone.now() + timedelta(seconds=ttl)
    )
    if credential:
        # Tickets live seconds: the shared cache holds what made them.
        cache.set(f"ticket-credential:{key_hash}", credential, ttl + 5)
    return secret, ttl


def credential_is_live(credential: str) -> bool:
    kind, _, value = credential.partition(":")
    if kind == "token":
        return value.isdigit() and ApiToken.objects.filter(pk=int(value)).exists()
    if kind == "session":
        return import_module(settings.SESSION_ENGINE).SessionStore().exists(value)
    return False


def ticket_redeem(*, secret: str) -> User | None:
    """Use a ticket up: the one caller whose delete removes the row gets the user, with
    `chat_credential` set to what made the ticket (refused if that is gone)."""
    if not secret or len(secret) > 200:
        return None
    key_hash = _hash(secret)
    with transaction.atomic():
        ticket = WebSocketTicket.objects.select_related("user").filter(key_hash=key_hash).first()
        if ticket is None:
            return None
        deleted, _ = WebSocketTicket.objects.filter(pk=ticket.pk).delete()
    if not deleted or ticket.expires < timezone.now() or not ticket.user.is_active:
        return None
    credential = cache.get(f"ticket-credential:{key_hash}")
    if credential is not None and not credential_is_live(credential):
        return None
    user = ticket.user
    user.chat_credential = credential
    return user


def user_block(*, blocker: User, username: str) -> None:
    blocked = User.objects.filter(username=username).first()
    if blocked is None:
        raise InvalidInput(f"Unknown user: {username}.")
    if blocked.pk == blocker.pk:
        raise InvalidInput("You cannot block yourself.")
    Block.objects.get_or_create(blocker=blocker, blocked=blocked)


def user_unblock(*, blocker: User, username: str) -> None:
    Block.objects.filter(blocker=blocker, blocked__username=username).delete()


def user_seen(*, user_id: int) -> None:
    """Record when the user's socket closed (shown as "last seen" when offline)."""
    User.objects.filter(pk=user_id).update(last_seen=timezone.now())


DO_NOT_DISTURB_MAX_MINUTES = 7 * 24 * 60


def user_set_do_not_disturb(*, user: User, on: bool, minutes: int | None = None) -> None:
    """Turn do-not-disturb off, on until turned off, or on for `minutes` (1 to a week).
    No desktop notifications reach the user meanwhile (their clients decide, from the
    page and the `do_not_disturb` frame every socket of theirs hears)."""
    if minutes is not None and not on:
        raise InvalidInput("minutes needs on: true.")
    if minutes is not None and not 1 <= minutes <= DO_NOT_DISTURB_MAX_MINUTES:
        raise InvalidInput(f"minutes must be from 1 to {DO_NOT_DISTURB_MAX_MINUTES}.")
    if not on:
        until = None
    elif minutes is None:
        until = DO_NOT_DISTURB_FOREVER
    else:
        until = timezone.now() + timedelta(minutes=minutes)
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(do_not_disturb_until=until)
        user.do_not_disturb_until = until
        events.do_not_disturb_changed(user_id=user.pk, on=on, until=do_not_disturb_end(user=user))


def do_not_disturb_end(*, user: User) -> str | None:
    """When the user's do-not-disturb ends, ISO 8601; None when it is off or has no end."""
    until = user.do_not_disturb_until
    if not user.do_not_disturb or until is None or until >= DO_NOT_DISTURB_FOREVER:
        return None
    return until.isoformat()
