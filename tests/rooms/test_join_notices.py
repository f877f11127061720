"""First-join notices: "bob joined" in a public room that announces joins.

Rooms made in the browser announce by default, rooms made through the API (scripts,
bots) only when asked; owners and moderators switch it either way."""

from __future__ import annotations

import re

import pytest

from rooms import selectors, services
from rooms.errors import Forbidden
from rooms.models import Message, Room
from tests.conftest import connect, join, receive_type

pytestmark = pytest.mark.django_db


@pytest.fixture
def announcing(alice):
    return services.room_create(creator=alice, name="Lobby", announce_joins=True)


def history(room):
    rows, _ = selectors.messages_page(room=room)
    return [(m.seq, m.kind, m.author_id, m.body) for m in rows]


def test_a_first_join_is_stored_as_a_system_message_in_seq_order(announcing, bob):
    services.message_post(room=announcing, author=announcing.creator, body="welcome")
    services.room_join(room=announcing, user=bob)
    services.room_join(room=announcing, user=bob)  # another tab: presence, not news
    services.message_post(room=announcing, author=bob, body="hi")
    assert history(announcing) == [
        (1, "text", announcing.creator_id, "welcome"),
        (2, "system", None, "bob joined"),
        (3, "text", bob.pk, "hi"),
    ]


def test_the_creator_is_not_announced_and_a_quiet_room_stays_quiet(alice, bob, announcing):
    quiet = services.room_create(creator=alice, name="Quiet")
    services.room_join(room=quiet, user=bob)
    assert Message.objects.filter(room=quiet).count() == 0
    assert Message.objects.filter(room=announcing).count() == 0


def test_api_rooms_are_quiet_unless_asked(api_client, alice, bob):
    api = api_client(alice)
    quiet = api.post("/api/rooms", {"name": "Bots"}).json()
    loud = api.post("/api/rooms", {"name": "Hall", "announce_joins": True}).json()
    assert quiet["announce_joins"] is False and loud["announce_joins"] is True
    bob_api = api_client(bob)
    for room in (quiet, loud):
        assert (
            bob_api.post(f"/api/rooms/{room['id']}/messages", {"body": "hello"}).status_code == 201
        )
    quiet_page = bob_api.get(f"/api/rooms/{quiet['id']}/messages").json()["messages"]
    loud_page = bob_api.get(f"/api/rooms/{loud['id']}/messages").json()["messages"]
    assert [(m["kind"], m["body"]) for m in quiet_page] == [("text", "hello")]
    assert [(m["seq"], m["kind"], m["author"], m["body"]) for m in loud_page] == [
        (1, "system", None, "bob joined"),
        (2, "text", "bob", "hello"),
    ]


def test_rooms_made_in_the_browser_announce_by_default(client, alice):
    client.force_login(alice)
    form = client.get("/rooms/new/").content.decode()
    box = re.search(r'<input[^>]*name="announce_joins"[^>]*>', form).group(0)
    assert "checked" in box
    response = client.post("/rooms/new/", {"name": "Garden", "announce_joins": "on"})
    assert response.status_code == 302
    assert Room.objects.get(name="Garden").announce_joins is True
    client.post("/rooms/new/", {"name": "Shed"})  # the box unticked
    assert Room.objects.get(name="Shed").announce_joins is False


def test_owners_switch_notices_and_the_switch_is_announced(api_client, announcing, alice, bob):
    response = api_client(alice).patch(f"/api/rooms/{announcing.id}", {"announce_joins": False})
    assert response.status_code == 200 and response.json()["announce_joins"] is False
    # The same setting again changes nothing and says nothing.
    assert (
        api_client(alice)
        .patch(f"/api/rooms/{announcing.id}", {"announce_joins": False})
        .status_code
        == 200
    )
    announcing.refresh_from_db()
    services.room_join(room=announcing, user=bob)
    assert [body for *_, body in history(announcing)] == ["alice turned join notices off"]


def test_members_cannot_switch_notices(announcing, bob):
    services.room_join(room=announcing, user=bob)
    before = history(announcing)
    with pytest.raises(Forbidden):
        services.room_update(room=announcing, by=bob, announce_joins=False)
    announcing.refresh_from_db()
    assert announcing.announce_joins is True and history(announcing) == before


def test_the_room_page_settings_form_switches_notices(client, announcing, alice):
    client.force_login(alice)
    page = client.get(f"/rooms/{announcing.id}/").content.decode()
    assert "Announce new members" in page
    client.post(f"/rooms/{announcing.id}/settings/", {"topic": ""})  # box unticked
    announcing.refresh_from_db()
    assert announcing.announce_joins is False
    assert [body for *_, body in history(announcing)] == ["alice turned join notices off"]


@pytest.mark.django_db(transaction=True)
async def test_a_first_join_reaches_the_joiner_and_the_room_live(alice, bob):
    from channels.db import database_sync_to_async

    room = await database_sync_to_async(services.room_create)(
        creator=alice, name="Lobby", announce_joins=True
    )
    alice_socket = await connect(alice)
    await join(alice_socket, room.id)
    bob_socket = await connect(bob)
    joined = await join(bob_socket, room.id)
    assert [(m["kind"], m["author"], m["body"]) for m in joined["messages"]] == [
        ("system", None, "bob joined")
    ]
    notice = (await receive_type(alice_socket, "message"))["message"]
    assert (notice["seq"], notice["kind"], notice["body"]) == (1, "system", "bob joined")
    # A second tab of bob's is presence, not another notice.
    second_tab = await connect(bob)
    again = await join(second_tab, room.id, after=1)
    assert again["messages"] == []
    await bob_socket.send_json_to(
        {"type": "send", "room": room.id, "body": "hi", "client_id": "c1"}
    )
    assert (await receive_type(alice_socket, "message"))["message"]["seq"] == 2
    for socket in (alice_socket, bob_socket, second_tab):
        await socket.disconnect()


@pytest.mark.parametrize("value", ["maybe", 3, [True]])
def test_a_bad_announce_value_is_refused_and_changes_nothing(api_client, announcing, alice, value):
    before = history(announcing)
    response = api_client(alice).patch(f"/api/rooms/{announcing.id}", {"announce_joins": value})
    assert response.status_code == 400
    assert isinstance(response.json()["detail"], str) and response.json()["detail"]
    announcing.refresh_from_db()
    assert announcing.announce_joins is True and history(announcing) == before
