"""The room page's data for its script, the Mentions page and the list's mention badge."""

from __future__ import annotations

import re

import pytest

from rooms import moderation, services
from tests.factories import RoomFactory

pytestmark = pytest.mark.django_db


def data_attributes(page: str) -> dict[str, str]:
    tag = re.search(r'<div class="room" id="room"[^>]*>', page, re.S).group(0)
    return dict(re.findall(r'data-([a-z-]+)="([^"]*)"', tag))


def test_the_room_page_tells_its_script_where_the_reader_left_off(client, room, alice, bob):
    services.room_join(room=room, user=bob)
    for n in range(3):
        services.message_post(room=room, author=alice, body=f"news {n}")
    client.force_login(bob)
    data = data_attributes(client.get(f"/rooms/{room.id}/").content.decode())
    assert data["last-read-seq"] == "0"
    assert data["last-seq"] == "3"
    assert data["can-moderate"] == "false"
    assert data["muted-until"] == ""


def test_a_first_visit_to_a_public_room_has_no_read_position(client, room, carol):
    client.force_login(carol)
    data = data_attributes(client.get(f"/rooms/{room.id}/").content.decode())
    assert data["last-read-seq"] == ""


def test_owners_see_that_they_can_moderate_and_muted_members_why(client, room, alice, bob):
    services.room_join(room=room, user=bob)
    moderation.member_mute(room=room, by=alice, username="bob", minutes=10, reason="too loud")
    client.force_login(alice)
    assert data_attributes(client.get(f"/rooms/{room.id}/").content.decode())["can-moderate"] == (
        "true"
    )
    client.force_login(bob)
    data = data_attributes(client.get(f"/rooms/{room.id}/").content.decode())
    assert data["muted-until"] and data["muted-reason"] == "too loud"


def test_the_mentions_page_lists_my_mentions_with_links_to_their_rooms(client, alice, bob):
    room = RoomFactory(name="Garden", creator=alice)
    other = RoomFactory(name="Kitchen", creator=alice)
    services.room_join(room=room, user=bob)
    services.room_join(room=other, user=bob)
    services.message_post(room=room, author=alice, body="@bob the <roses> need you")
    services.message_post(room=other, author=alice, body="@alice talks to herself")
    client.force_login(bob)
    page = client.get("/mentions/").content.decode()
    assert f'<a href="/rooms/{room.id}/">Garden</a>' in page
    assert "@bob the &lt;roses&gt; need you" in page
    assert "talks to herself" not in page
    assert 'href="/mentions/">Mentions</a>' in page  # in the navigation


def test_the_room_list_shows_mentions_apart_from_unread(client, alice, bob):
    direct, _ = services.direct_get_or_create(user=alice, username="bob")
    services.message_post(room=direct, author=bob, body="hi @alice")
    services.message_post(room=direct, author=bob, body="still there?")
    client.force_login(alice)
    page = client.get("/").content.decode()
    assert 'aria-label="2 unread"' in page
    assert 'aria-label="1 mention">@1</span>' in page
