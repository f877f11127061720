"""Guests: people who chat under a name of their choosing, with no account, the way the
older chat servers' users did (docs/clients.md). Off unless CHAT_GUESTS is set.

A guest is a User with `is_guest`, no usable password (so no web log-in and no tokens)
and a name that belongs to one room: the first JSON object of the TCP gateway or the
old clients' socket, `{"name": "Mina", "room": "dev"}`, makes or finds the guest
"Mina" of room "dev". Everything else is the members' code: the same stream, the same
access policy (rooms.access: a guest sees only public rooms open to guests and is
refused whatever needs an account), the same moderation (mute, ban, deactivate).

Names: a guest's name may not look like (accounts/names.py: case and look-alikes) the
username or display name of an account, nor the name of another active guest of the
room. The same name coming back to the same room while its guest is offline is that
guest again (the old servers had no passwords either), bans included; while it is
online, the name is taken. A guest offline for CHAT_GUEST_IDLE seconds is deactivated (`expire_idle`),
which frees the name; its messages stay.
"""

from __future__ import annotations

import unicodedata
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts import names
from accounts.models import User
from rooms import access, selectors, services
from rooms.errors import Conflict, Forbidden, InvalidInput, RoomNotFound
from rooms.input_checks import UnsafeInput, refuse_control_characters
from rooms.models import Membership, Room, RoomBan

# Account usernames cannot hold "~" (Django's validator): guests' usernames start with
# it, so the two never meet and a guest is recognisable in every list ("~Mina").
USERNAME_PREFIX = "~"


def check_enabled() -> None:
    if not settings.CHAT_GUESTS:
        raise Forbidden("Guest access is off on this site; sign in with a token or ticket.")


def clean_name(name: object) -> str:
    """A guest name: one line of 1 to CHAT_GUEST_NAME_MAX_LENGTH visible characters
    (NFKC, whitespace collapsed), without "~" or a leading "@" (those mark usernames)."""
    if not isinstance(name, str):
        raise InvalidInput('"name" must be a string.')
    try:
        name = refuse_control_characters(name, field="name")
    except UnsafeInput as exc:
        raise InvalidInput(str(exc)) from None
    name = " ".join(unicodedata.normalize("NFKC", name).split())
    limit = settings.CHAT_GUEST_NAME_MAX_LENGTH
    if not name or len(name) > limit:
        raise InvalidInput(f'"name" must be 1 to {limit} characters.')
    if any(unicodedata.category(c) == "Cf" for c in name):
        # Invisible and direction characters (U+200B, U+202E): a name is an identity.
        raise InvalidInput("A name may not contain invisible or text-direction characters.")
    if USERNAME_PREFIX in name or name.startswith("@"):
        raise InvalidInput('A name may not contain "~" or start with "@".')
    return name


def resolve_room(*, room: int | str) -> int:
    """The room a guest names: an id, or a public room's slug or unique name. A missing
    named room is created, open to guests, when CHAT_GUEST_ROOMS allows it."""
    check_enabled()
    if isinstance(room, int):
        return room
    try:
        return selectors.public_room_id_by_name(name=room)
    except RoomNotFound:
        if not settings.CHAT_GUEST_ROOMS:
            raise RoomNotFound(f"No room is named {room[:80]!r}.") from None
    return _create_room(name=room)


def _create_room(*, name: str) -> int:
    """A public room open to guests, with no owner (site staff moderate it)."""
    name = services.clean_room_name(name)
    with transaction.atomic():
        services.refuse_public_name_clash(name=name)
        room = Room.objects.create(
            name=name,
            slug=services.unique_slug(name),
            kind=Room.Kind.PUBLIC,
            open_to_guests=True,
        )
    return room.pk


def enter(*, name: object, room_id: int, online: list[str]) -> User:
    """The guest called `name` in the room, made now or found again. `online`: the
    usernames connected to the room now (from presence), so a name in use is refused
    while a name whose guest has gone is theirs again. Raises Forbidden (guests off,
    the room not open to guests), RoomNotFound, InvalidInput, Conflict (name taken)."""
    check_enabled()
    name = clean_name(name)
    with transaction.atomic():
        # One guest entering a room at a time: two "Mina"s arriving together make one.
        room = Room.objects.select_for_update().filter(pk=room_id).first()
        if room is None or room.is_private:
            raise RoomNotFound()
        if not room.open_to_guests or room.is_archived:
            raise Forbidden(f"The room {room.name!r} is not open to guests.")
        if User.objects.filter(names.same_name(name), is_guest=False, is_active=True).exists():
            raise Conflict(f"The name {name!r} belongs to an account; choose another.")
        # The room's guests: its members, and those banned from it (a ban ends the
        # membership; the name must not come back as a fresh guest).
        banned = RoomBan.objects.filter(room=room).values("user_id")
        same = list(
            User.objects.filter(names.same_name(name), is_guest=True, is_active=True)
            .filter(Q(memberships__room=room) | Q(pk__in=banned))
            .distinct()
        )
        for guest in same:
            if guest.display_name == name and guest.username not in online:
                if RoomBan.objects.filter(room=room, user=guest).exists():
                    access.raise_banned(room=room, user=guest)
                return guest  # the same guest, back
        if same:
            raise Conflict(f"The name {name!r} is taken in this room; choose another.")
        guest = _create_guest(name=name)
        services.room_join(room=room, user=guest)
    return guest


def _create_guest(*, name: str) -> User:
    base = f"{USERNAME_PREFIX}{name}"[:140]
    for attempt in range(1, 100):
        username = base if attempt == 1 else f"{base}~{attempt}"
        if User.objects.filter(username=username).exists():
            continue  # the same name's guest of another room
        try:
            with transaction.atomic():
                guest = User(username=username, display_name=name, is_guest=True)
                guest.set_unusable_password()
                guest.save()
                return guest
        except IntegrityError:
            continue  # taken a moment ago by another room's guest
    raise Conflict("Too many guests share this name; choose another.")


def idle_guests(*, now=None) -> list[tuple[int, str, list[int]]]:
    """(id, username, room ids) of active guests offline since CHAT_GUEST_IDLE seconds
    ago, as far as the database knows (presence has the last word: `expire`)."""
    now = now or timezone.now()
    before = now - timedelta(seconds=settings.CHAT_GUEST_IDLE)
    guests = User.objects.filter(is_guest=True, is_active=True).filter(
        Q(last_seen__lt=before) | Q(last_seen__isnull=True, date_joined__lt=before)
    )
    rooms: dict[int, list[int]] = {}
    for user_id, room_id in Membership.objects.filter(user__in=guests).values_list(
        "user_id", "room_id"
    ):
        rooms.setdefault(user_id, []).append(room_id)
    return [(g.pk, g.username, rooms.get(g.pk, [])) for g in guests.only("pk", "username")]


def expire(*, user_ids: list[int]) -> int:
    """Deactivate these guests (they are offline): their names are free again, their
    messages stay. Returns how many were deactivated."""
    return User.objects.filter(pk__in=user_ids, is_guest=True, is_active=True).update(
        is_active=False
    )
