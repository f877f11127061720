"""Private 1:1 chats and conferences: the rules of the private-chat issue."""

from __future__ import annotations

import threading

import pytest
from channels.db import database_sync_to_async
from django.db import close_old_connections

from accounts import services as account_services
from rooms import access, selectors, services
from rooms.errors import Forbidden, InvalidInput, RoomNotFound
from rooms.models import Membership, Message, Room
from tests.conftest import connect, join, receive_type
from tests.factories import UserFactory


@pytest.fixture
def conference(alice, bob, carol):
    return services.room_create(
        creator=alice, name=None, kind="conference", members=["bob", "carol"]
    )


@pytest.mark.django_db
class TestDirectRooms:
    def test_it_is_the_same_room_whoever_starts_it(self, alice, bob):
        first, created = services.direct_get_or_create(user=alice, username="bob")
        again, created_again = services.direct_get_or_create(user=bob, username="alice")
        assert created and not created_again
        assert first.pk == again.pk and first.kind == Room.Kind.DIRECT
        assert selectors.room_member_usernames(room=first) == ["alice", "bob"]

    def test_it_refuses_yourself_and_unknown_users(self, alice):
        with pytest.raises(InvalidInput, match="yourself"):
            services.direct_get_or_create(user=alice, username="alice")
        with pytest.raises(InvalidInput, match="nobody"):
            services.direct_get_or_create(user=alice, username="nobody")
        assert Room.objects.count() == 0

    def test_a_blocked_user_cannot_open_a_private_chat(self, alice, mallory):
        account_services.user_block(blocker=alice, username="mallory")
        with pytest.raises(Forbidden):
            services.direct_get_or_create(user=mallory, username="alice")
        assert Room.objects.count() == 0

    def test_it_cannot_be_left_only_hidden_until_a_new_message(self, alice, bob):
        room, _ = services.direct_get_or_create(user=alice, username="bob")
        with pytest.raises(InvalidInput):
            services.room_leave(room=room, user=alice)
        services.direct_hide(room=room, user=alice)
        assert room not in selectors.private_rooms_for_user(user=alice)
        services.message_post(room=room, author=bob, body="still there?")
        assert room in selectors.private_rooms_for_user(user=alice)


@pytest.mark.django_db(transaction=True)
def test_two_users_starting_a_chat_at_the_same_instant_get_one_room():
    alice = UserFactory(username="alice")
    bob = UserFactory(username="bob")
    barrier = threading.Barrier(2)
    rooms = []

    def start(user, other):
        try:
            barrier.wait()
            rooms.append(services.direct_get_or_create(user=user, username=other)[0].pk)
        finally:
            close_old_connections()

    threads = [
        threading.Thread(target=start, args=(alice, "bob")),
        threading.Thread(target=start, args=(bob, "alice")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(rooms) == 2 and rooms[0] == rooms[1]
    assert Room.objects.filter(kind=Room.Kind.DIRECT).count() == 1


@pytest.mark.django_db
class TestConferences:
    def test_it_needs_two_others_and_gets_a_default_name(self, alice, bob, carol):
        with pytest.raises(InvalidInput, match="two other"):
            services.room_create(creator=alice, name="x", kind="conference", members=["bob"])
        room = services.room_create(
            creator=alice, name="", kind="conference", members=["bob", "carol"]
        )
        assert room.name == "Alice, Bob, Carol"

    def test_inviting_into_a_direct_room_makes_a_new_conference(self, alice, bob, carol):
        direct, _ = services.direct_get_or_create(user=alice, username="bob")
        conference = services.room_invite(room=direct, by=alice, usernames=["carol"])
        assert conference.pk != direct.pk and conference.kind == Room.Kind.CONFERENCE
        assert selectors.room_member_usernames(room=conference) == ["alice", "bob", "carol"]
        assert selectors.room_member_usernames(room=direct) == ["alice", "bob"]
        notice = Message.objects.get(room=conference)
        assert notice.kind == "system" and notice.author is None
        assert notice.body == "alice started this conference with bob and carol"

    def test_inviting_into_a_conference_adds_members_who_see_its_history(
        self, conference, alice, mallory
    ):
        services.message_post(room=conference, author=alice, body="before you came")
        same = services.room_invite(room=conference, by=alice, usernames=["mallory"])
        assert same.pk == conference.pk
        rows, _ = selectors.messages_page(
            room=access.room_get_visible(user=mallory, room_id=conference.pk)
        )
        assert [m.body for m in rows] == ["before you came", "alice invited mallory"]

    @pytest.mark.parametrize(
        "usernames, reason",
        [
            (["bob"], "Already a member: bob"),
            (["alice"], "yourself"),
            (["ghost", "mallory"], "Unknown user: ghost"),
            ([], "at least one"),
        ],
    )
    def test_bad_invitations_name_the_user_and_change_nothing(
        self, conference, alice, mallory, usernames, reason
    ):
        before = Membership.objects.count()
        with pytest.raises(InvalidInput, match=reason):
            services.room_invite(room=conference, by=alice, usernames=usernames)
        assert Membership.objects.count() == before
        assert Message.objects.count() == 0

    def test_a_blocked_user_cannot_invite_you(self, conference, alice, mallory):
        account_services.user_block(blocker=mallory, username="alice")
        with pytest.raises(Forbidden, match="mallory"):
            services.room_invite(room=conference, by=alice, usernames=["mallory"])
        assert not selectors.is_member(user=mallory, room=conference)

    def test_non_members_cannot_invite(self, conference, mallory):
        with pytest.raises(RoomNotFound):
            services.room_invite(room=conference, by=mallory, usernames=["mallory"])

    def test_leaving_posts_a_notice_and_the_last_one_out_archives(
        self, conference, alice, bob, carol
    ):
        services.room_leave(room=conference, user=bob)
        assert Message.objects.get(room=conference).body == "bob left"
        services.room_leave(room=conference, user=carol)
        services.room_leave(room=conference, user=alice)
        conference.refresh_from_db()
        assert conference.is_archived

    def test_members_rename_and_set_the_topic(self, conference, bob, mallory):
        services.room_update(room=conference, by=bob, name="Trip", topic="Packing list")
        conference.refresh_from_db()
        assert (conference.name, conference.topic) == ("Trip", "Packing list")
        with pytest.raises(RoomNotFound):
            services.room_update(room=conference, by=mallory, name="Mine")

    def test_list_shows_last_message_and_unread_counts_newest_first(self, conference, alice, bob):
        direct, _ = services.direct_get_or_create(user=alice, username="bob")
        services.message_post(room=direct, author=bob, body="first line\nsecond line")
        services.message_post(room=conference, author=bob, body="newer")
        services.message_post(room=conference, author=bob, body="newest")
        summaries = selectors.private_room_summaries(user=alice)
        assert [s["room"].pk for s in summaries] == [conference.pk, direct.pk]
        assert summaries[0]["unread"] == 2 and summaries[0]["last_message"].body == "newest"
        assert summaries[1]["unread"] == 1
        services.membership_mark_read(room=Room.objects.get(pk=conference.pk), user=alice, seq=99)
        assert selectors.private_room_summaries(user=alice)[0]["unread"] == 0


@pytest.mark.django_db(transaction=True)
async def test_a_member_who_leaves_stops_receiving_at_once_on_every_socket(alice, bob, carol):
    conference = await database_sync_to_async(services.room_create)(
        creator=alice, name="Plans", kind="conference", members=["bob", "carol"]
    )
    bob_socket = await connect(bob)
    await join(bob_socket, conference.id)
    await database_sync_to_async(services.room_leave)(room=conference, user=bob)
    # The join's settling read may still deliver "bob left" (committed with the leave)
    # just before the removal is heard; nothing of the room's comes after it.
    frame = await bob_socket.receive_json_from(timeout=3)
    while frame["type"] != "removed":
        assert frame["type"] in ("presence", "read") or (
            frame["type"] == "message" and frame["message"]["body"] == "bob left"
        ), frame
        frame = await bob_socket.receive_json_from(timeout=3)
    assert frame == {
        "type": "removed",
        "room": conference.id,
        "detail": "You are no longer a member of this room.",
    }
    await database_sync_to_async(services.message_post)(
        room=conference, author=alice, body="secret"
    )
    while not await bob_socket.receive_nothing(timeout=0.3):  # nothing of the room's
        frame = await bob_socket.receive_json_from()
        assert frame["type"] in ("presence", "read"), frame
    await bob_socket.send_json_to({"type": "join", "room": conference.id, "after": None})
    assert (await receive_type(bob_socket, "error"))["code"] == "not_found"
    await bob_socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_private_room_activity_reaches_members_sockets_in_other_rooms(
    alice, bob, carol, room
):
    conference = await database_sync_to_async(services.room_create)(
        creator=alice, name="Plans", kind="conference", members=["bob", "carol"]
    )
    bob_socket = await connect(bob)
    await join(bob_socket, room.id)  # bob is looking at another room
    await database_sync_to_async(services.message_post)(room=conference, author=alice, body="psst")
    activity = await receive_type(bob_socket, "room_activity")
    assert activity["room"] == conference.id and activity["message"]["body"] == "psst"
    await bob_socket.disconnect()


@pytest.mark.django_db
class TestPrivateApi:
    def test_private_list_has_unread_counts_and_reading_clears_them(self, api_client, alice, bob):
        direct, _ = services.direct_get_or_create(user=alice, username="bob")
        services.message_post(room=direct, author=bob, body="hi alice")
        listing = api_client(alice).get("/api/private").json()["rooms"]
        assert listing[0]["room"]["id"] == direct.id
        assert listing[0]["unread"] == 1 and listing[0]["last_message"]["body"] == "hi alice"
        assert api_client(alice).post(f"/api/rooms/{direct.id}/read", {"seq": 1}).status_code == 204
        assert api_client(alice).get("/api/private").json()["rooms"][0]["unread"] == 0

    def test_rename_is_for_members_and_not_for_direct_rooms(
        self, api_client, conference, alice, mallory
    ):
        renamed = api_client(alice).patch(f"/api/rooms/{conference.id}", {"name": "Trip"})
        assert renamed.status_code == 200 and renamed.json()["name"] == "Trip"
        assert (
            api_client(mallory).patch(f"/api/rooms/{conference.id}", {"name": "x"}).status_code
            == 404
        )
        direct, _ = services.direct_get_or_create(user=alice, username="bob")
        response = api_client(alice).patch(f"/api/rooms/{direct.id}", {"name": "x"})
        assert response.status_code == 400 and "renamed" in response.json()["detail"]

    def test_blocking_through_the_api(self, api_client, alice, mallory):
        assert api_client(alice).post("/api/blocks", {"username": "mallory"}).status_code == 204
        refused = api_client(mallory).post("/api/direct", {"username": "alice"})
        assert refused.status_code == 403 and isinstance(refused.json()["detail"], str)
        unknown = api_client(alice).post("/api/blocks", {"username": "ghost"})
        assert unknown.status_code == 400 and "ghost" in unknown.json()["detail"]
        assert api_client(alice).delete("/api/blocks/mallory").status_code == 204
        assert api_client(mallory).post("/api/direct", {"username": "alice"}).status_code == 201

    def test_hiding_a_direct_room(self, api_client, alice, bob):
        direct, _ = services.direct_get_or_create(user=alice, username="bob")
        assert api_client(alice).post(f"/api/rooms/{direct.id}/hide").status_code == 204
        assert api_client(alice).get("/api/private").json()["rooms"] == []
