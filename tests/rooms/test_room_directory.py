"""The public rooms on the room list, with member counts and "joined"; leaving a public
room from its page."""

from __future__ import annotations

import pytest

from rooms import services
from rooms.models import Membership
from tests.factories import RoomFactory

pytestmark = pytest.mark.django_db


def test_the_room_list_shows_member_counts_and_which_rooms_are_joined(client, alice, bob, carol):
    joined = RoomFactory(name="Joined", slug="joined", creator=alice)
    services.room_join(room=joined, user=bob)
    RoomFactory(name="Other", slug="other", creator=carol)
    client.force_login(bob)
    page = client.get("/").content.decode()
    assert '· 2 members · <span class="tag">joined</span>' in page
    assert "· 1 member</span>" in page


def test_a_member_leaves_a_public_room_from_its_page(client, alice, bob):
    room = RoomFactory(name="Hall", slug="hall", creator=alice)
    services.room_join(room=room, user=bob)
    client.force_login(bob)
    page = client.get(f"/rooms/{room.pk}/").content.decode()
    assert ">Leave room</button>" in page
    done = client.post(f"/rooms/{room.pk}/leave/", follow=True)
    assert "You left Hall." in done.content.decode()
    assert not Membership.objects.filter(room=room, user=bob).exists()
