"""Do not disturb: a per-user switch (on, on for a while, off) over the API, shown in
the navigation, and heard by every socket of the user."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from accounts import services
from accounts.models import DO_NOT_DISTURB_FOREVER, User
from rooms.errors import InvalidInput
from tests.conftest import connect, join, nothing_more, receive_type

URL = "/api/me/dnd"


def _until(user) -> datetime | None:
    return User.objects.get(pk=user.pk).do_not_disturb_until


@pytest.mark.django_db
def test_it_is_off_until_turned_on_and_then_stays_on_until_turned_off(api_client, alice):
    api = api_client(alice)
    assert api.get(URL).json() == {"on": False, "until": None}
    assert api.put(URL, {"on": True}).json() == {"on": True, "until": None}
    assert api.get(URL).json() == {"on": True, "until": None}
    assert _until(alice) == DO_NOT_DISTURB_FOREVER
    assert api.put(URL, {"on": False}).json() == {"on": False, "until": None}
    assert _until(alice) is None


@pytest.mark.django_db
def test_it_can_be_on_for_some_minutes_and_then_ends_by_itself(api_client, alice):
    api = api_client(alice)
    before = timezone.now()
    answer = api.put(URL, {"minutes": 30}).json()
    assert answer["on"] is True
    until = datetime.fromisoformat(answer["until"])
    assert before + timedelta(minutes=30) <= until <= timezone.now() + timedelta(minutes=30)
    assert api.put(URL, {"on": True, "minutes": 5}).json()["on"] is True
    User.objects.filter(pk=alice.pk).update(do_not_disturb_until=before - timedelta(seconds=1))
    assert api.get(URL).json() == {"on": False, "until": None}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        {},
        {"on": None},
        {"on": "yes"},
        {"on": 1},
        {"on": [True]},
        {"minutes": 0},
        {"minutes": -5},
        {"minutes": 7 * 24 * 60 + 1},
        {"minutes": 10**30},
        {"minutes": 1.5},
        {"minutes": "10"},
        {"minutes": True},
        {"on": False, "minutes": 10},
        {"on": "\x00"},
        [],
        "on",
    ],
)
def test_bad_input_is_refused_with_a_reason_and_changes_nothing(api_client, alice, body):
    services.user_set_do_not_disturb(user=alice, on=True, minutes=60)
    before = _until(alice)
    response = api_client(alice).put(URL, body)
    assert response.status_code == 400, response.content
    assert isinstance(response.json()["detail"], str)
    assert _until(alice) == before


@pytest.mark.django_db
def test_the_service_refuses_what_the_api_refuses(alice):
    for minutes in (0, 10081):
        with pytest.raises(InvalidInput):
            services.user_set_do_not_disturb(user=alice, on=True, minutes=minutes)
    with pytest.raises(InvalidInput):
        services.user_set_do_not_disturb(user=alice, on=False, minutes=5)
    assert _until(alice) is None


@pytest.mark.django_db
def test_it_needs_a_signed_in_user(client):
    assert client.get(URL).status_code == 401
    assert client.put(URL, {"on": True}, content_type="application/json").status_code in (401, 403)


@pytest.mark.django_db
def test_the_navigation_shows_the_switch_pressed_or_not(client, alice):
    client.force_login(alice)
    page = client.get("/").content.decode()
    assert 'id="dnd-toggle"' in page and 'aria-pressed="false"' in page
    assert '<span class="dnd-text">Do not disturb</span></button>' in page
    services.user_set_do_not_disturb(user=alice, on=True)
    page = client.get("/").content.decode()
    assert 'aria-pressed="true"' in page


@pytest.mark.django_db(transaction=True)
async def test_every_socket_of_mine_hears_the_change_and_nobody_elses(alice, bob, room):
    from rooms import services as room_services

    await database_sync_to_async(room_services.room_join)(room=room, user=bob)
    mine, theirs = await connect(alice), await connect(bob)
    await join(mine, room.id)
    await join(theirs, room.id)
    await database_sync_to_async(services.user_set_do_not_disturb)(user=alice, on=True)
    frame = await receive_type(mine, "do_not_disturb")
    assert frame == {"type": "do_not_disturb", "on": True, "until": None}
    await database_sync_to_async(services.user_set_do_not_disturb)(user=alice, on=False)
    assert (await receive_type(mine, "do_not_disturb"))["on"] is False
    assert await nothing_more(theirs)
    await mine.disconnect()
    await theirs.disconnect()
