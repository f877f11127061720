"""The sidebar's list (GET /api/sidebar and the server-drawn sidebar): the rooms I
belong to with unread and mention counts, a 1:1 chat named for the other person."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from rooms import selectors, services
from tests.factories import RoomFactory, UserFactory

pytestmark = pytest.mark.django_db


def _post(room, author, body):
    return services.message_post(room=room, author=author, body=body)


def test_counts_names_and_order(api_client, alice, bob, carol):
    zoo = RoomFactory(name="zoo", slug="zoo", creator=alice)
    apple = RoomFactory(name="Apple", slug="apple", creator=alice)
    RoomFactory(name="Not mine", slug="not-mine", creator=carol)
    services.room_join(room=zoo, user=bob)
    direct, _ = services.direct_get_or_create(user=bob, username="alice")
    _post(zoo, bob, "hello")
    _post(zoo, bob, "@alice look")
    _post(direct, bob, "psst")
    _post(apple, alice, "my own")  # my own messages are not unread

    rooms = api_client(alice).get("/api/sidebar").json()["rooms"]
    assert [(r["label"], r["kind"], r["unread"], r["mentions"]) for r in rooms] == [
        ("Apple", "public", 0, 0),
        ("zoo", "public", 2, 1),
        ("Bob", "direct", 1, 0),
    ]
    dm = rooms[2]
    assert dm["handle"] == "bob" and dm["name"] == "alice & bob" and dm["id"] == direct.id

    # Reading moves the counts; a hidden 1:1 chat leaves the list until it speaks again.
    services.membership_mark_read(room=zoo, user=alice, seq=zoo.last_seq + 2)
    services.direct_hide(room=direct, user=alice)
    rooms = api_client(alice).get("/api/sidebar").json()["rooms"]
    assert [(r["label"], r["unread"], r["mentions"]) for r in rooms] == [
        ("Apple", 0, 0),
        ("zoo", 0, 0),
    ]


def test_it_is_three_queries_however_many_rooms(alice, bob):
    for n in range(6):
        room = RoomFactory(name=f"Room {n}", slug=f"room-{n}", creator=alice)
        services.room_join(room=room, user=bob)
        _post(room, alice, f"@bob {n}")
    for name in ("carl", "dora", "emil"):
        UserFactory(username=name)
        services.direct_get_or_create(user=bob, username=name)
    with CaptureQueriesContext(connection) as queries:
        entries = selectors.sidebar_rooms(user=bob)
    assert len(entries) == 9
    assert sum(e["mentions"] for e in entries) == 6
    assert len(queries) == 3


def test_only_for_the_signed_in(client):
    assert client.get("/api/sidebar").status_code == 401


def test_pages_show_it_but_the_room_list_does_not(client, alice, room):
    client.force_login(alice)
    assert 'aria-label="Your rooms"' in client.get(f"/rooms/{room.pk}/").content.decode()
    assert 'aria-label="Your rooms"' in client.get("/mentions/").content.decode()
    assert 'aria-label="Your rooms"' not in client.get("/").content.decode()
