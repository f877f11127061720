"""The private-chat pages: Message button, conference form, invite, leave, the list."""

from __future__ import annotations

import pytest

from rooms import selectors, services
from rooms.models import Room
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_message_button_opens_the_one_direct_room(client, alice, bob):
    client.force_login(alice)
    page = client.get("/accounts/users/bob/")
    assert b">Message</button>" in page.content
    first = client.post("/rooms/direct/bob/")
    again = client.post("/rooms/direct/bob/")
    assert first.status_code == 302 and first.url == again.url
    assert Room.objects.filter(kind="direct").count() == 1


def test_conference_form_creates_a_conference_or_shows_the_error(client, alice, bob, carol):
    client.force_login(alice)
    refused = client.post("/rooms/new-conference/", {"name": "", "members": "bob"})
    assert refused.status_code == 200 and b"at least two other" in refused.content
    created = client.post("/rooms/new-conference/", {"name": "", "members": "bob, carol"})
    room = Room.objects.get(kind="conference")
    assert created.url == f"/rooms/{room.id}/"
    assert selectors.room_member_usernames(room=room) == ["alice", "bob", "carol"]


def test_inviting_from_a_direct_room_page_moves_to_the_new_conference(client, alice, bob, carol):
    UserFactory(username="dave")
    UserFactory(username="erin")
    direct, _ = services.direct_get_or_create(user=alice, username="bob")
    client.force_login(alice)
    response = client.post(f"/rooms/{direct.id}/invite/", {"usernames": "carol"})
    conference = Room.objects.get(kind="conference")
    assert response.url == f"/rooms/{conference.id}/"
    page = client.get(response.url)
    assert b'<label for="invite-input">Invite</label>' in page.content
    assert b"Leave conference" in page.content
    # The page says what happened, and that the 1:1 chat is untouched.
    assert (
        "You started a new conference with Bob and carol; "
        "your private chat with Bob stays as it was."
    ) in page.content.decode()
    # Inviting into that conference says who was invited; the room's notice names all.
    more = client.post(f"/rooms/{conference.id}/invite/", {"usernames": "dave, erin"}, follow=True)
    assert "Invited dave, erin." in more.content.decode()
    notice = conference.messages.filter(kind="system").order_by("-seq").first()
    assert notice.body == "alice invited dave, erin"


def test_bad_invitation_from_the_page_shows_the_reason(client, alice, bob):
    direct, _ = services.direct_get_or_create(user=alice, username="bob")
    client.force_login(alice)
    page = client.post(f"/rooms/{direct.id}/invite/", {"usernames": "ghost"}, follow=True)
    assert b"Unknown user: ghost" in page.content


def test_leaving_a_conference_from_its_page(client, alice, bob, carol):
    room = services.room_create(
        creator=alice, name="Trip", kind="conference", members=["bob", "carol"]
    )
    client.force_login(bob)
    assert client.post(f"/rooms/{room.id}/leave/").url == "/"
    assert client.get(f"/rooms/{room.id}/").status_code == 404


def test_room_list_shows_private_rooms_with_unread_and_first_line(client, alice, bob):
    direct, _ = services.direct_get_or_create(user=alice, username="bob")
    services.message_post(room=direct, author=bob, body="<i>first</i> line\nsecond line")
    client.force_login(alice)
    page = client.get("/").content.decode()
    assert "bob: &lt;i&gt;first&lt;/i&gt; line" in page
    assert "second line" not in page
    assert 'aria-label="1 unread"' in page


def test_private_room_pages_are_404_for_outsiders(client, alice, bob, mallory):
    direct, _ = services.direct_get_or_create(user=alice, username="bob")
    client.force_login(mallory)
    assert client.get(f"/rooms/{direct.id}/").status_code == 404
    assert client.post(f"/rooms/{direct.id}/invite/", {"usernames": "mallory"}).status_code == 404
    assert client.post(f"/rooms/{direct.id}/leave/").status_code == 404
