"""Open public rooms' names are unique ignoring case and look-alikes (the TR39 skeleton
of accounts.names): creating or renaming a public room to such a name is refused."""

from __future__ import annotations

import contextlib
import threading
from unittest import mock

import pytest
from django.db import OperationalError, close_old_connections, connection

from rooms import services
from rooms.errors import InvalidInput
from rooms.models import Room
from tests.factories import RoomFactory


@pytest.fixture
def dev(alice):
    return services.room_create(creator=alice, name="Dev")


@pytest.mark.parametrize(
    "clash",
    [
        "Dev",
        "dev",
        "DEV",
        "  dev  ",
        "D\u0435v",  # a Cyrillic е
        "\uff24\uff45\uff56",  # fullwidth Ｄｅｖ
        "De\u200bv",  # a zero-width space
    ],
)
@pytest.mark.django_db
def test_a_public_room_cannot_take_the_name_of_an_open_one_by_case_or_look(dev, bob, clash):
    with pytest.raises(InvalidInput, match=r"^A public room named 'Dev' already exists\.$"):
        services.room_create(creator=bob, name=clash)
    assert Room.objects.filter(kind="public").count() == 1


@pytest.mark.django_db
def test_other_names_conferences_and_closed_rooms_are_free(dev, alice, bob, carol):
    assert services.room_create(creator=bob, name="Devs").name == "Devs"
    assert services.room_create(creator=bob, name="Dev ops").name == "Dev ops"
    conference = services.room_create(
        creator=alice, name="Dev", kind="conference", members=["bob", "carol"]
    )
    assert conference.name == "Dev"
    Room.objects.filter(pk=dev.pk).update(is_archived=True)  # a temporary room closed
    assert services.room_create(creator=bob, name="dev").name == "dev"


@pytest.mark.django_db
def test_renaming_a_public_room_to_an_open_ones_name_is_refused(dev, alice):
    other = services.room_create(creator=alice, name="Ops")
    with pytest.raises(InvalidInput, match=r"^A public room named 'Dev' already exists\.$"):
        services.room_update(room=other, by=alice, name="DEV", topic="new topic")
    other.refresh_from_db()
    assert (other.name, other.topic) == ("Ops", "")  # nothing of the update was saved
    # Its own name in another case is no clash; nor is a name no open room has.
    assert services.room_update(room=dev, by=alice, name="DEV").name == "DEV"
    assert services.room_update(room=other, by=alice, name="Dev ops").name == "Dev ops"


@pytest.mark.django_db
def test_existing_duplicates_stay_and_can_still_be_changed(alice):
    first = RoomFactory(name="General", slug="general", creator=alice)
    second = RoomFactory(name="general", slug="general-2", creator=alice)
    services.room_update(room=second, by=alice, topic="still works", name="general")
    assert services.room_update(room=first, by=alice, name="General!").name == "General!"
    assert set(Room.objects.values_list("name", flat=True)) == {"General!", "general"}


@pytest.mark.django_db
def test_the_api_answers_a_clash_with_400_and_the_sentence(dev, bob, api_client):
    response = api_client(bob).post("/api/rooms", {"name": "dEv", "kind": "public"})
    assert response.status_code == 400
    assert response.json() == {"detail": "A public room named 'Dev' already exists."}


@pytest.mark.django_db(transaction=True)
def test_two_people_creating_look_alike_rooms_at_once_make_one_room(alice, bob):
    """Both pass the check before either inserts, unless the check is serialised: each
    waits (up to a second) after its check for the other to get there too."""
    meeting = threading.Barrier(2, timeout=1)
    checked = services.refuse_public_name_clash

    def check_then_wait(**kwargs):
        checked(**kwargs)
        # Broken after a second when the other is held at the lock, as it should be.
        with contextlib.suppress(threading.BrokenBarrierError):
            meeting.wait()

    outcomes: list[object] = []

    def create(user, name):
        try:
            outcomes.append(services.room_create(creator=user, name=name))
        except (InvalidInput, OperationalError) as error:
            # SQLite refuses the second writer ("database is locked") instead of waiting.
            outcomes.append(error)
        finally:
            close_old_connections()

    with mock.patch.object(services, "refuse_public_name_clash", check_then_wait):
        threads = [
            threading.Thread(target=create, args=(alice, "Dev")),
            # A look-alike with another slug ("dv"): only the name check can refuse it.
            threading.Thread(target=create, args=(bob, "D\u0435v")),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert len(outcomes) == 2
    assert Room.objects.filter(kind="public").count() == 1
    refusals = [o for o in outcomes if not isinstance(o, Room)]
    assert len(refusals) == 1
    if connection.vendor == "postgresql":
        assert isinstance(refusals[0], InvalidInput)
