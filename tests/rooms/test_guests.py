"""Guests (rooms/guests.py): who may come in under a name, which names are refused,
what a guest may not do, and how an idle guest expires. Through the services and the
access policy, on the test database; the doors are in tests/realtime/test_guest_doors.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts import services as account_services
from rooms import access, guests, services
from rooms.errors import Conflict, Forbidden, InvalidInput, RateLimitedError, RoomNotFound
from rooms.models import Membership, Room
from tests.factories import RoomFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def guests_on(settings):
    settings.CHAT_GUESTS = True
    return settings


@pytest.fixture
def lobby(alice):
    return RoomFactory(name="Lobby", slug="lobby", creator=alice, open_to_guests=True)


def test_guests_are_off_unless_the_site_turns_them_on(lobby):
    with pytest.raises(Forbidden, match="Guest access is off"):
        guests.enter(name="Mina", room_id=lobby.pk, online=[])
    with pytest.raises(Forbidden):
        guests.resolve_room(room="lobby")


def test_a_guest_enters_a_room_open_to_guests(guests_on, lobby):
    mina = guests.enter(name="  Mina  ", room_id=lobby.pk, online=[])
    assert mina.is_guest and mina.username == "~Mina" and mina.display_name == "Mina"
    assert mina.shown_name == "Mina (guest)"
    assert not mina.has_usable_password()
    assert Membership.objects.filter(room=lobby, user=mina).exists()
    # No web log-in: there is no password to give.
    assert not Client().login(username="~Mina", password="")


def test_a_room_not_open_to_guests_and_a_private_room_are_refused(guests_on, room, alice, bob):
    with pytest.raises(Forbidden, match="not open to guests"):
        guests.enter(name="Mina", room_id=room.pk, online=[])
    direct, _ = services.direct_get_or_create(user=alice, username="bob")
    with pytest.raises(RoomNotFound):
        guests.enter(name="Mina", room_id=direct.pk, online=[])
    with pytest.raises(RoomNotFound):
        guests.resolve_room(room="no-such-room")


@pytest.mark.parametrize("name", ["alice", "ALICE", "аlice", "Alice", "aIice", "Bob"])
def test_a_name_like_an_accounts_name_is_refused(guests_on, lobby, alice, bob, name):
    with pytest.raises(Conflict, match="belongs to an account"):
        guests.enter(name=name, room_id=lobby.pk, online=[])


@pytest.mark.parametrize("name", ["", "   ", "x" * 31, "a~b", "@mina", "mi\x00na", "mi\u202ena", 7])
def test_a_bad_name_is_refused_and_nothing_is_made(guests_on, lobby, name):
    with pytest.raises(InvalidInput):
        guests.enter(name=name, room_id=lobby.pk, online=[])
    assert not Membership.objects.filter(room=lobby, user__is_guest=True).exists()


def test_a_name_in_use_in_the_room_is_taken_an_offline_one_comes_back(guests_on, lobby):
    mina = guests.enter(name="Mina", room_id=lobby.pk, online=[])
    with pytest.raises(Conflict, match="taken in this room"):
        guests.enter(name="Mina", room_id=lobby.pk, online=[mina.username])
    with pytest.raises(Conflict, match="taken in this room"):
        guests.enter(name="MINA", room_id=lobby.pk, online=[])  # a look-alike, not hers
    again = guests.enter(name="Mina", room_id=lobby.pk, online=[])
    assert again.pk == mina.pk


def test_the_same_name_in_another_room_is_another_guest(guests_on, lobby, alice):
    other = RoomFactory(name="Other", slug="other", creator=alice, open_to_guests=True)
    first = guests.enter(name="Mina", room_id=lobby.pk, online=[])
    second = guests.enter(name="Mina", room_id=other.pk, online=[])
    assert first.pk != second.pk and second.username == "~Mina~2"


def test_a_member_cannot_take_an_active_guests_name(guests_on, lobby, bob):
    guests.enter(name="Mina", room_id=lobby.pk, online=[])
    with pytest.raises(InvalidInput, match="too like another user's name"):
        account_services.profile_update(user=bob, display_name="Mina", bio="")


def test_a_guest_is_refused_what_needs_an_account(guests_on, lobby, room, alice):
    mina = guests.enter(name="Mina", room_id=lobby.pk, online=[])
    with pytest.raises(Forbidden, match="Guests cannot"):
        services.direct_get_or_create(user=mina, username="alice")
    with pytest.raises(Forbidden, match="Guests cannot"):
        services.room_create(creator=mina, name="Mine")
    with pytest.raises(Forbidden, match="Guests cannot"):
        services.whisper_send(room=lobby, sender=mina, to="alice", body="hi", online=["alice"])
    with pytest.raises(InvalidInput, match="keep the name"):
        account_services.profile_update(user=mina, display_name="Someone", bio="")
    # Members cannot pull a guest into a private room either.
    with pytest.raises(InvalidInput, match="Unknown user"):
        services.direct_get_or_create(user=alice, username="~Mina")
    # A room not open to guests is invisible to them, like a private room.
    with pytest.raises(RoomNotFound):
        access.room_get_visible(user=mina, room_id=room.pk)
    assert access.room_get_visible(user=mina, room_id=lobby.pk) == lobby


def test_closing_a_room_to_guests_shuts_them_out(guests_on, lobby, alice):
    mina = guests.enter(name="Mina", room_id=lobby.pk, online=[])
    services.message_post(room=lobby, author=mina, body="hello")
    services.room_update(room=lobby, by=alice, open_to_guests=False)
    with pytest.raises(RoomNotFound):
        access.room_get_visible(user=mina, room_id=lobby.pk)


def test_only_the_owner_opens_a_public_room_to_guests(guests_on, room, alice, bob):
    with pytest.raises(Forbidden):
        services.room_update(room=room, by=bob, open_to_guests=True)
    services.room_update(room=room, by=alice, open_to_guests=True)
    room.refresh_from_db()
    assert room.open_to_guests


def test_a_conference_cannot_be_opened_to_guests(guests_on, alice, bob, carol):
    conference = services.room_create(
        creator=alice, name="c", kind=Room.Kind.CONFERENCE, members=["bob", "carol"]
    )
    with pytest.raises(InvalidInput, match="Only a public room"):
        services.room_update(room=conference, by=alice, open_to_guests=True)


def test_guests_may_create_a_missing_room_only_when_the_site_allows(guests_on, settings):
    with pytest.raises(RoomNotFound):
        guests.resolve_room(room="dev")
    settings.CHAT_GUEST_ROOMS = True
    room_id = guests.resolve_room(room="dev")
    room = Room.objects.get(pk=room_id)
    assert (room.name, room.kind, room.open_to_guests, room.creator) == (
        "dev",
        "public",
        True,
        None,
    )
    assert guests.resolve_room(room="dev") == room_id  # found, not made twice


def test_guests_post_under_a_tighter_limit(guests_on, lobby, settings):
    settings.CHAT_GUEST_SEND_BURST = 3
    mina = guests.enter(name="Mina", room_id=lobby.pk, online=[])
    for i in range(3):
        services.message_post(room=lobby, author=mina, body=f"m{i}")
    with pytest.raises(RateLimitedError):
        services.message_post(room=lobby, author=mina, body="one too many")


def test_an_idle_guest_expires_and_frees_the_name(guests_on, lobby):
    mina = guests.enter(name="Mina", room_id=lobby.pk, online=[])
    services.message_post(room=lobby, author=mina, body="I was here")
    assert guests.idle_guests() == []
    later = timezone.now() + timedelta(seconds=guests_on.CHAT_GUEST_IDLE + 1)
    idle = guests.idle_guests(now=later)
    assert idle == [(mina.pk, "~Mina", [lobby.pk])]
    assert guests.expire(user_ids=[mina.pk]) == 1
    mina.refresh_from_db()
    assert not mina.is_active
    assert lobby.messages.filter(author=mina).count() == 1  # the history stays
    newcomer = guests.enter(name="Mina", room_id=lobby.pk, online=[])
    assert newcomer.pk != mina.pk


@pytest.mark.django_db(transaction=True)
def test_the_admin_lists_guests_removes_one_and_opens_and_closes_rooms(client, guests_on, lobby):
    from django.urls import reverse

    from accounts.models import User
    from tests.factories import UserFactory

    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(root)
    mina = guests.enter(name="Mina", room_id=lobby.pk, online=[])
    users = reverse("admin:accounts_user_changelist")
    listed = client.get(users, {"is_guest__exact": "1"})
    assert listed.status_code == 200
    assert list(listed.context["cl"].queryset) == [mina]
    client.post(users, {"action": "deactivate", "_selected_action": [mina.pk]})
    assert not User.objects.get(pk=mina.pk).is_active
    rooms = reverse("admin:rooms_room_changelist")
    client.post(rooms, {"action": "close_to_guests", "_selected_action": [lobby.pk]})
    lobby.refresh_from_db()
    assert not lobby.open_to_guests
    client.post(rooms, {"action": "open_to_guests", "_selected_action": [lobby.pk]})
    lobby.refresh_from_db()
    assert lobby.open_to_guests


def test_moderation_applies_to_guests_and_a_guest_is_never_a_moderator(guests_on, lobby, alice):
    from rooms import moderation

    mina = guests.enter(name="Mina", room_id=lobby.pk, online=[])
    with pytest.raises(Forbidden, match="Guests cannot be moderators"):
        moderation.moderator_set(room=lobby, by=alice, username="~Mina", moderator=True)
    moderation.member_mute(room=lobby, by=alice, username="~Mina", minutes=5, reason="calm")
    from rooms.errors import Muted

    with pytest.raises(Muted):
        services.message_post(room=lobby, author=mina, body="let me speak")
    moderation.member_ban(room=lobby, by=alice, username="~Mina", reason="spam")
    from rooms.errors import Banned

    with pytest.raises(Banned):
        access.room_get_visible(user=mina, room_id=lobby.pk)
