"""Per-room notify levels (all / mentions / nothing): the defaults, the service, the
API (with the older `muted` form), the room page, and the frames that carry the level
to a member's sockets in other rooms."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from rooms import selectors, services
from rooms.errors import InvalidInput, RoomNotFound
from rooms.models import Membership
from tests.conftest import connect, join, nothing_more, receive_type


def _stored(room, user) -> str:
    return Membership.objects.get(room=room, user=user).notify_level


# --- The defaults and the service -------------------------------------------------------


@pytest.mark.django_db
def test_private_rooms_notify_of_everything_and_public_rooms_of_mentions_by_default(
    room, conference, direct, alice
):
    assert selectors.notify_level_get(user=alice, room=conference) == "all"
    assert selectors.notify_level_get(user=alice, room=direct) == "all"
    assert selectors.notify_level_get(user=alice, room=room) == "mentions"
    assert _stored(room, alice) == ""  # the default is not stored: it follows the room kind


@pytest.mark.django_db
@pytest.mark.parametrize("level", ["all", "mentions", "nothing"])
def test_a_member_sets_a_level_and_reads_it_back(room, conference, alice, level):
    for where in (room, conference):
        assert services.membership_set_notify_level(room=where, user=alice, level=level) == level
        assert selectors.notify_level_get(user=alice, room=where) == level


@pytest.mark.django_db
def test_no_level_goes_back_to_the_rooms_default(room, alice):
    services.membership_set_notify_level(room=room, user=alice, level="nothing")
    assert services.membership_set_notify_level(room=room, user=alice, level=None) == "mentions"
    assert _stored(room, alice) == ""


@pytest.mark.django_db
def test_the_service_refuses_an_unknown_level_and_non_members(room, conference, alice, mallory):
    with pytest.raises(InvalidInput):
        services.membership_set_notify_level(room=room, user=alice, level="loud")
    with pytest.raises(InvalidInput):
        services.membership_set_notify_level(room=room, user=mallory, level="all")
    with pytest.raises(RoomNotFound):
        services.membership_set_notify_level(room=conference, user=mallory, level="all")
    assert _stored(room, alice) == ""


@pytest.mark.django_db
def test_the_change_is_sent_only_after_commit(room, alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        services.membership_set_notify_level(room=room, user=alice, level="all")
    assert len(callbacks) == 1


# --- The API ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_api_sets_and_reads_a_level(api_client, conference, alice, bob):
    api = api_client(alice)
    url = f"/api/rooms/{conference.id}/notifications"
    assert api.get(url).json() == {"level": "all"}
    assert api.post(url, {"level": "mentions"}).status_code == 204
    assert api.get(url).json() == {"level": "mentions"}
    members = {
        m["username"]: m for m in api.get(f"/api/rooms/{conference.id}/members").json()["members"]
    }
    assert members["alice"]["notify_level"] == "mentions"
    assert members["alice"]["notifications_muted"] is False
    assert members["bob"]["notify_level"] is None  # someone else's is not mine to see
    listed = {r["room"]["id"]: r for r in api.get("/api/private").json()["rooms"]}
    assert listed[conference.id]["notify_level"] == "mentions"
    # bob's own level is untouched.
    assert api_client(bob).get(url).json() == {"level": "all"}


@pytest.mark.django_db
def test_muted_still_works_as_before(api_client, room, conference, alice):
    api = api_client(alice)
    for where, default in ((room, "mentions"), (conference, "all")):
        url = f"/api/rooms/{where.id}/notifications"
        assert api.post(url, {"muted": True}).status_code == 204
        assert api.get(url).json() == {"level": "nothing"}
        assert api.post(url, {"muted": False}).status_code == 204
        assert api.get(url).json() == {"level": default}
        assert _stored(where, alice) == ""


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        {},
        {"level": "loud"},
        {"level": "ALL"},
        {"level": 1},
        {"level": ["all"]},
        {"level": "all\x00"},
        {"level": None},
        {"muted": None},
        {"muted": "sometimes"},
        {"muted": {"a": 1}},
        {"level": "all", "muted": True},
        {"level": "nothing", "muted": False},
        [],
        "nothing",
    ],
)
def test_bad_input_is_refused_with_a_reason_and_changes_nothing(api_client, room, alice, body):
    services.membership_set_notify_level(room=room, user=alice, level="all")
    response = api_client(alice).post(f"/api/rooms/{room.id}/notifications", body)
    assert response.status_code == 400, response.content
    assert isinstance(response.json()["detail"], str)
    assert _stored(room, alice) == "all"


@pytest.mark.django_db
def test_outsiders_are_told_nothing(api_client, room, conference, direct, mallory):
    api = api_client(mallory)
    for hidden in (conference, direct):
        for answer in (
            api.post(f"/api/rooms/{hidden.id}/notifications", {"level": "all"}),
            api.get(f"/api/rooms/{hidden.id}/notifications"),
        ):
            assert answer.status_code == 404
    missing = api.post("/api/rooms/999999/notifications", {"level": "all"})
    assert missing.status_code == 404
    # A public room is visible: joining it first is the answer, as before.
    public = api.post(f"/api/rooms/{room.id}/notifications", {"level": "all"})
    assert public.status_code == 400 and "Join" in public.json()["detail"]
    assert not Membership.objects.filter(user=mallory).exists()


# --- The room page ----------------------------------------------------------------------


@pytest.mark.django_db
def test_the_room_page_offers_the_levels_with_mine_chosen(client, room, conference, alice):
    client.force_login(alice)
    page = client.get(f"/rooms/{room.id}/").content.decode()
    assert 'data-notify-level="mentions"' in page
    assert '<label for="notify-level">Notify me about</label>' in page
    assert '<option value="mentions" selected>Mentions only</option>' in page
    assert "Everything" in page and ">Nothing<" in page
    assert 'id="notify-mute"' not in page
    services.membership_set_notify_level(room=conference, user=alice, level="nothing")
    page = client.get(f"/rooms/{conference.id}/").content.decode()
    assert 'data-notify-level="nothing"' in page
    assert '<option value="nothing" selected>Nothing</option>' in page


# --- The frames -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_activity_and_mention_frames_carry_my_level_for_their_room(alice, bob, carol, room):
    conference = await database_sync_to_async(services.room_create)(
        creator=alice, name="Plans", kind="conference", members=["bob", "carol"]
    )
    await database_sync_to_async(services.room_join)(room=room, user=bob)
    await database_sync_to_async(services.membership_set_notify_level)(
        room=conference, user=bob, level="nothing"
    )
    bob_socket, carol_socket = await connect(bob), await connect(carol)
    await join(bob_socket, room.id)
    await join(carol_socket, room.id)
    await database_sync_to_async(services.message_post)(
        room=conference, author=alice, body="@bob and @carol: plans"
    )
    for socket, level in ((bob_socket, "nothing"), (carol_socket, "all")):
        frames = {}
        while len(frames) < 2:
            frame = await socket.receive_json_from(timeout=3)
            if frame["type"] in ("room_activity", "mention"):
                frames[frame["type"]] = frame
        assert frames["room_activity"]["notify_level"] == level
        assert frames["room_activity"]["room_kind"] == "conference"
        assert frames["mention"]["notify_level"] == level

    # A public room's default: mentions.
    other = await database_sync_to_async(services.room_create)(creator=carol, name="Elsewhere")
    await database_sync_to_async(services.room_join)(room=other, user=bob)
    await database_sync_to_async(services.message_post)(room=other, author=carol, body="hi @bob")
    mention = await receive_type(bob_socket, "mention")
    assert mention["room"] == other.id and mention["notify_level"] == "mentions"
    await bob_socket.disconnect()
    await carol_socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_level_change_reaches_my_other_sockets_only(alice, bob, room):
    await database_sync_to_async(services.room_join)(room=room, user=bob)
    mine, theirs = await connect(alice), await connect(bob)
    await join(mine, room.id)
    await join(theirs, room.id)
    await database_sync_to_async(services.membership_set_notify_level)(
        room=room, user=alice, level="all"
    )
    frame = await receive_type(mine, "notify_level")
    assert frame == {"type": "notify_level", "room": room.id, "level": "all"}
    assert await nothing_more(theirs)
    await mine.disconnect()
    await theirs.disconnect()


@pytest.mark.django_db
def test_posting_costs_no_extra_query_for_the_levels(
    alice, bob, carol, django_assert_max_num_queries
):
    """The levels come from the queries that already found the members and the
    mentioned: one per message, however many members."""
    conference = services.room_create(
        creator=alice, name="Plans", kind="conference", members=["bob", "carol"]
    )
    services.message_post(room=conference, author=alice, body="warm up @bob")
    with django_assert_max_num_queries(12) as captured:
        services.message_post(room=conference, author=alice, body="again @bob @carol")
    level_reads = [
        q["sql"]
        for q in captured.captured_queries
        if q["sql"].startswith('SELECT "rooms_membership"."user_id" AS "user_id", ')
    ]
    assert len(level_reads) == 2  # the members' levels, the mentioned members' levels
