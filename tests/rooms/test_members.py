"""Member lists, per-room notification muting (the older `muted` form), online and last
seen."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from accounts.models import User
from rooms import moderation, services
from tests.conftest import connect


@pytest.mark.django_db
def test_member_list_puts_owners_and_moderators_first(api_client, room, alice, bob, carol):
    services.room_join(room=room, user=carol)
    services.room_join(room=room, user=bob)
    moderation.moderator_set(room=room, by=alice, username="carol", moderator=True)
    members = api_client(bob).get(f"/api/rooms/{room.id}/members").json()["members"]
    assert [(m["username"], m["role"]) for m in members] == [
        ("alice", "owner"),
        ("carol", "moderator"),
        ("bob", "member"),
    ]


@pytest.mark.django_db
def test_a_member_mutes_notifications_for_a_room(api_client, room, alice, mallory):
    api = api_client(alice)
    assert api.post(f"/api/rooms/{room.id}/notifications", {"muted": True}).status_code == 204
    members = api.get(f"/api/rooms/{room.id}/members").json()["members"]
    assert members[0]["notifications_muted"] is True
    assert members[0]["notify_level"] == "nothing"
    outsider = api_client(mallory).post(f"/api/rooms/{room.id}/notifications", {"muted": True})
    assert outsider.status_code == 400 and "Join" in outsider.json()["detail"]


@pytest.mark.django_db(transaction=True)
async def test_profile_shows_online_then_last_seen(client, alice, bob):
    await database_sync_to_async(client.force_login)(alice)
    socket = await connect(bob)
    page = await database_sync_to_async(client.get)("/accounts/users/bob/")
    assert b'class="presence online">online<' in page.content
    await socket.disconnect()
    page = await database_sync_to_async(client.get)("/accounts/users/bob/")
    assert b"last seen" in page.content
    bob_now = await database_sync_to_async(User.objects.get)(pk=bob.pk)
    assert bob_now.last_seen is not None


@pytest.mark.django_db(transaction=True)
async def test_member_list_says_who_is_online_and_when_others_were_last_seen(
    api_client, room, alice, bob
):
    await database_sync_to_async(services.room_join)(room=room, user=bob)
    socket = await connect(bob)
    await socket.disconnect()  # bob was here a moment ago
    alice_socket = await connect(alice)
    api = await database_sync_to_async(api_client)(alice)
    response = await database_sync_to_async(api.get)(f"/api/rooms/{room.id}/members")
    members = {m["username"]: m for m in response.json()["members"]}
    assert members["alice"]["online"] is True
    assert members["bob"]["online"] is False and members["bob"]["last_seen"] is not None
    await alice_socket.disconnect()


@pytest.mark.django_db
def test_the_member_list_says_whose_avatar_to_show(api_client, room, alice, bob):
    from accounts import services as account_services
    from tests.accounts.images import image_bytes, upload

    services.room_join(room=room, user=bob)
    account_services.avatar_set(user=bob, upload=upload(image_bytes("PNG")))
    members = api_client(alice).get(f"/api/rooms/{room.id}/members").json()["members"]
    urls = {m["username"]: m["avatar_url"] for m in members}
    assert urls["alice"] is None  # none uploaded: the page draws initials
    assert urls["bob"].startswith("/accounts/avatar/bob/?v=")
    assert api_client(alice).get(urls["bob"].split("?")[0]).status_code == 200
