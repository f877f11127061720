"""The JSON API for rooms and messages, held to CONTRACT.md."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from asgiref.sync import ThreadSensitiveContext
from channels.db import database_sync_to_async
from django.test import AsyncClient, Client

from rooms import services
from rooms.models import Membership, Message, Room
from tests.conftest import PASSWORD, connect, join, nothing_more, receive_type, token_for
from tests.factories import RoomFactory, UserFactory

MESSAGE_FIELDS = {
    "id": int,
    "room": int,
    "seq": int,
    "kind": str,
    "author": (str, type(None)),
    "body": str,
    "created_at": str,
    "client_id": (str, type(None)),
    "edited_at": (str, type(None)),
    "deleted": bool,
}


def assert_is_message(data: dict) -> None:
    for field, kind in MESSAGE_FIELDS.items():
        assert field in data, f"Message lacks {field}: {data}"
        assert isinstance(data[field], kind), f"{field} is {data[field]!r}"
    assert not isinstance(data["id"], bool)
    assert data["kind"] in ("text", "action", "system")


def assert_is_room(data: dict) -> None:
    assert isinstance(data["id"], int)
    assert isinstance(data["name"], str)
    assert data["kind"] in ("public", "direct", "conference")
    if data["kind"] != "public" or "members" in data:
        assert isinstance(data["members"], list)
        assert all(isinstance(name, str) for name in data["members"])


def assert_error(response, status: int | tuple[int, ...] | None = None) -> dict:
    """A 4xx answer with {"detail": "<a sentence>"}."""
    if status is None:
        assert 400 <= response.status_code < 500, response.content
    elif isinstance(status, tuple):
        assert response.status_code in status, response.content
    else:
        assert response.status_code == status, response.content
    data = response.json()
    assert isinstance(data["detail"], str)
    assert data["detail"]
    return data


def counts() -> tuple[int, int, int]:
    return Room.objects.count(), Membership.objects.count(), Message.objects.count()


def post(room, user, body, client_id=None) -> Message:
    return services.message_post(room=room, author=user, body=body, client_id=client_id)[0]


def posts(room, user, how_many: int) -> None:
    for i in range(1, how_many + 1):
        post(room, user, f"m{i}")


# --- authentication -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/rooms"),
        ("post", "/api/rooms"),
        ("post", "/api/direct"),
        ("post", "/api/rooms/1/invite"),
        ("post", "/api/rooms/1/leave"),
        ("get", "/api/rooms/1/messages"),
        ("post", "/api/rooms/1/messages"),
        ("patch", "/api/messages/1"),
        ("delete", "/api/messages/1"),
    ],
)
def test_it_answers_401_without_credentials(db, method, path):
    # A browser-like client: CSRF enforced, no session. Still 401, not a CSRF 403.
    client = Client(enforce_csrf_checks=True)
    response = getattr(client, method)(path, content_type="application/json")
    assert_error(response, 401)


def test_it_answers_401_for_a_bad_bearer_token(db, client):
    response = client.get("/api/rooms", headers={"Authorization": "Bearer cst_nope"})
    assert_error(response, 401)


def test_it_answers_401_for_another_authorization_scheme(db, client, alice):
    token = token_for(alice)
    for header in (f"Token {token}", f"Basic {token}", token):
        assert_error(client.get("/api/rooms", headers={"Authorization": header}), 401)


def test_it_accepts_a_bearer_token(api_client, alice, room):
    response = api_client(alice).get("/api/rooms")
    assert response.status_code == 200
    assert [r["name"] for r in response.json()["rooms"]] == ["General"]


def test_it_accepts_the_session_for_reads(client, alice, room):
    client.force_login(alice)
    response = client.get("/api/rooms")
    assert response.status_code == 200
    assert response.json()["rooms"][0]["id"] == room.id


def test_it_refuses_a_session_post_without_the_csrf_token(alice, room):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = client.post(
        f"/api/rooms/{room.id}/messages", {"body": "hi"}, content_type="application/json"
    )
    assert_error(response, 403)
    assert Message.objects.count() == 0


def test_it_accepts_a_session_post_with_the_csrf_token(alice, room):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    client.get("/")  # sets the csrftoken cookie
    csrf = client.cookies["csrftoken"].value
    response = client.post(
        f"/api/rooms/{room.id}/messages",
        {"body": "hi"},
        content_type="application/json",
        headers={"X-CSRFToken": csrf},
    )
    assert response.status_code == 201
    assert response.json()["author"] == "alice"


def test_a_bearer_post_needs_no_csrf_token(alice, room):
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        f"/api/rooms/{room.id}/messages",
        {"body": "hi"},
        content_type="application/json",
        headers={"Authorization": f"Bearer {token_for(alice)}"},
    )
    assert response.status_code == 201


# --- rooms ----------------------------------------------------------------------------


def test_room_list_shows_public_rooms_and_only_my_private_ones(
    api_client, alice, bob, mallory, room, conference, direct
):
    secret = services.room_create(
        creator=mallory, name="Secret", kind="conference", members=["carol", "bob"]
    )
    rooms = api_client(alice).get("/api/rooms").json()["rooms"]
    for data in rooms:
        assert_is_room(data)
    by_id = {r["id"]: r for r in rooms}
    assert set(by_id) == {room.id, conference.id, direct.id}
    assert secret.id not in by_id
    assert by_id[conference.id]["members"] == ["alice", "bob", "carol"]
    assert by_id[direct.id]["kind"] == "direct"
    assert sorted(by_id[direct.id]["members"]) == ["alice", "bob"]


def test_public_rooms_omit_members_rather_than_sending_null(api_client, alice, room):
    api = api_client(alice)
    listed = api.get("/api/rooms").json()["rooms"][0]
    created = api.post("/api/rooms", {"name": "Lobby"}).json()
    for data in (listed, created):
        assert data["kind"] == "public"
        assert "members" not in data


def test_it_creates_a_public_room(api_client, alice):
    response = api_client(alice).post("/api/rooms", {"name": "  Lobby  ", "kind": "public"})
    assert response.status_code == 201
    data = response.json()
    assert_is_room(data)
    assert data["name"] == "Lobby"
    assert data["kind"] == "public"
    room = Room.objects.get(pk=data["id"])
    assert Membership.objects.get(room=room).user == alice


def test_public_is_the_default_kind_and_members_are_optional(api_client, alice):
    response = api_client(alice).post("/api/rooms", {"name": "Lobby"})
    assert response.status_code == 201
    assert response.json()["kind"] == "public"


def test_it_creates_a_conference_with_at_least_two_others(api_client, alice, bob, carol):
    response = api_client(alice).post(
        "/api/rooms", {"name": "Trio", "kind": "conference", "members": ["bob", "carol"]}
    )
    assert response.status_code == 201
    data = response.json()
    assert_is_room(data)
    assert data["kind"] == "conference"
    assert data["members"] == ["alice", "bob", "carol"]


def test_a_conference_without_a_name_is_named_after_its_members(api_client, alice, bob, carol):
    response = api_client(alice).post(
        "/api/rooms", {"kind": "conference", "members": ["bob", "carol"]}
    )
    assert response.status_code == 201
    assert response.json()["name"]


@pytest.mark.parametrize(
    "members",
    [[], ["bob"], ["bob", "bob"], ["bob", "alice"]],
    ids=["none", "one", "one-twice", "one-and-myself"],
)
def test_it_refuses_a_conference_with_fewer_than_two_others(api_client, alice, bob, members):
    before = counts()
    response = api_client(alice).post(
        "/api/rooms", {"name": "Pair", "kind": "conference", "members": members}
    )
    assert_error(response, 400)
    assert counts() == before


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"name": ""},
        {"name": "   "},
        {"name": "x" * 81},
        {"name": 42},
        {"name": None},
        {"name": ["a"]},
        {"name": "ok", "kind": "direct"},
        {"name": "ok", "kind": "secret"},
        {"name": "ok", "kind": 1},
        {"name": "ok", "members": "bob"},
        {"name": "ok", "members": [1, 2]},
        {"name": "ok", "kind": "conference", "members": ["bob", "nobody"]},
        {"name": "ok", "topic": 5},
    ],
)
def test_it_refuses_a_bad_room_and_creates_nothing(api_client, alice, bob, payload):
    before = counts()
    assert_error(api_client(alice).post("/api/rooms", payload), 400)
    assert counts() == before


def test_a_room_name_of_80_characters_is_accepted(api_client, alice):
    response = api_client(alice).post("/api/rooms", {"name": "x" * 80})
    assert response.status_code == 201
    assert response.json()["name"] == "x" * 80


def test_it_refuses_control_characters_in_a_room_name(api_client, alice):
    before = counts()
    assert_error(api_client(alice).post("/api/rooms", {"name": "bad\x00name"}), 400)
    assert counts() == before


# --- direct rooms -----------------------------------------------------------------------


def test_direct_returns_the_same_room_every_time(api_client, alice, bob):
    first = api_client(alice).post("/api/direct", {"username": "bob"})
    assert first.status_code == 201
    data = first.json()
    assert_is_room(data)
    assert data["kind"] == "direct"
    assert sorted(data["members"]) == ["alice", "bob"]

    again = api_client(alice).post("/api/direct", {"username": "bob"})
    assert again.status_code == 200
    assert again.json()["id"] == data["id"]

    from_bob = api_client(bob).post("/api/direct", {"username": "alice"})
    assert from_bob.status_code == 200
    assert from_bob.json()["id"] == data["id"]
    assert Room.objects.filter(kind="direct").count() == 1


@pytest.mark.parametrize(
    "payload",
    [{}, {"username": ""}, {"username": "nobody"}, {"username": "alice"}, {"username": 7}],
    ids=["missing", "empty", "unknown", "myself", "not-a-string"],
)
def test_direct_refuses_bad_input(api_client, alice, bob, payload):
    before = counts()
    assert_error(api_client(alice).post("/api/direct", payload), 400)
    assert counts() == before


# --- invite and leave ----------------------------------------------------------------------


def test_inviting_into_a_direct_room_makes_a_new_conference(api_client, alice, bob, carol, direct):
    response = api_client(alice).post(f"/api/rooms/{direct.id}/invite", {"usernames": ["carol"]})
    assert response.status_code == 200
    data = response.json()
    assert_is_room(data)
    assert data["kind"] == "conference"
    assert data["id"] != direct.id
    assert data["members"] == ["alice", "bob", "carol"]
    # The 1:1 room is unchanged.
    direct.refresh_from_db()
    assert direct.kind == "direct"
    members = Membership.objects.filter(room=direct).values_list("user__username", flat=True)
    assert sorted(members) == ["alice", "bob"]


def test_inviting_into_a_conference_adds_the_members(api_client, alice, bob, carol, conference):
    dave = UserFactory(username="dave")
    response = api_client(bob).post(f"/api/rooms/{conference.id}/invite", {"usernames": ["dave"]})
    assert response.status_code == 200
    data = response.json()
    assert data["id"] == conference.id
    assert data["members"] == ["alice", "bob", "carol", "dave"]
    assert Membership.objects.filter(room=conference, user=dave).exists()


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"usernames": []},
        {"usernames": "dave"},
        {"usernames": [1]},
        {"usernames": ["nobody"]},
        {"usernames": ["alice"]},
        {"usernames": ["bob"]},
        {"usernames": ["dave", "nobody"]},
    ],
    ids=[
        "missing",
        "empty",
        "not-a-list",
        "not-strings",
        "unknown",
        "myself",
        "existing-member",
        "one-unknown-among-good",
    ],
)
def test_invite_refuses_bad_input_and_changes_nothing(api_client, alice, bob, conference, payload):
    UserFactory(username="dave")
    before = counts()
    assert_error(api_client(alice).post(f"/api/rooms/{conference.id}/invite", payload), 400)
    assert counts() == before


def test_invite_into_a_public_room_is_refused(api_client, alice, bob, room):
    before = counts()
    assert_error(api_client(alice).post(f"/api/rooms/{room.id}/invite", {"usernames": ["bob"]}))
    assert counts() == before


def test_an_invited_member_sees_the_conference_and_its_history(
    api_client, alice, bob, carol, conference
):
    post(conference, alice, "said before dave came")
    dave = UserFactory(username="dave")
    api_client(alice).post(f"/api/rooms/{conference.id}/invite", {"usernames": ["dave"]})
    dave_api = api_client(dave)
    assert conference.id in [r["id"] for r in dave_api.get("/api/rooms").json()["rooms"]]
    messages = dave_api.get(f"/api/rooms/{conference.id}/messages").json()["messages"]
    assert messages[0]["body"] == "said before dave came"
    assert messages[-1]["kind"] == "system"


def test_leaving_a_conference_answers_204_and_ends_membership(api_client, alice, bob, conference):
    response = api_client(bob).post(f"/api/rooms/{conference.id}/leave")
    assert response.status_code == 204
    assert not Membership.objects.filter(room=conference, user=bob).exists()
    # Now it is private and not mine: invisible.
    assert_error(api_client(bob).get(f"/api/rooms/{conference.id}/messages"), 404)


def test_leaving_a_direct_room_is_refused(api_client, alice, bob, direct):
    assert_error(api_client(alice).post(f"/api/rooms/{direct.id}/leave"), 400)
    assert Membership.objects.filter(room=direct).count() == 2


def test_leaving_a_public_room_answers_204(api_client, alice, room):
    response = api_client(alice).post(f"/api/rooms/{room.id}/leave")
    assert response.status_code == 204
    assert not Membership.objects.filter(room=room, user=alice).exists()


# --- private rooms are invisible ----------------------------------------------------------


def _private_calls(room_id: int):
    return [
        ("get", f"/api/rooms/{room_id}/messages", None),
        ("get_wait", f"/api/rooms/{room_id}/messages", None),
        ("post", f"/api/rooms/{room_id}/messages", {"body": "hi"}),
        ("post", f"/api/rooms/{room_id}/invite", {"usernames": ["carol"]}),
        ("post", f"/api/rooms/{room_id}/leave", None),
    ]


@pytest.mark.parametrize("kind", ["direct", "conference"])
def test_a_private_room_is_404_for_non_members_exactly_like_a_missing_room(
    api_client, alice, bob, carol, mallory, kind, direct, conference
):
    private = direct if kind == "direct" else conference
    missing_id = Room.objects.order_by("-id").first().id + 1000
    mallory_api = api_client(mallory)
    before = counts()
    for (method, path, data), (_, missing_path, _) in zip(
        _private_calls(private.id), _private_calls(missing_id), strict=True
    ):
        if method == "get":
            hidden, absent = mallory_api.get(path), mallory_api.get(missing_path)
        elif method == "get_wait":
            hidden = mallory_api.get(path, after=0, wait=1)
            absent = mallory_api.get(missing_path, after=0, wait=1)
        else:
            hidden, absent = mallory_api.post(path, data), mallory_api.post(missing_path, data)
        assert_error(hidden, 404)
        assert hidden.json() == absent.json() == assert_error(absent, 404)
    assert counts() == before


def test_messages_in_a_private_room_are_404_for_non_members(
    api_client, alice, bob, mallory, direct
):
    message = post(direct, alice, "secret")
    mallory_api = api_client(mallory)
    hidden = mallory_api.patch(f"/api/messages/{message.id}", {"body": "mine"})
    absent = mallory_api.patch(f"/api/messages/{message.id + 1000}", {"body": "mine"})
    assert_error(hidden, 404)
    assert hidden.json() == absent.json()
    assert_error(mallory_api.delete(f"/api/messages/{message.id}"), 404)
    message.refresh_from_db()
    assert message.body == "secret"
    assert not message.deleted


def test_a_private_room_is_missing_from_a_non_members_room_list(api_client, mallory, direct):
    assert direct.id not in [r["id"] for r in api_client(mallory).get("/api/rooms").json()["rooms"]]


# --- posting --------------------------------------------------------------------------------


def test_posting_answers_201_with_the_message(api_client, alice, room):
    response = api_client(alice).post(
        f"/api/rooms/{room.id}/messages", {"body": "  hello  ", "client_id": "c-1"}
    )
    assert response.status_code == 201
    data = response.json()
    assert_is_message(data)
    assert data["room"] == room.id
    assert data["seq"] == 1
    assert data["kind"] == "text"
    assert data["author"] == "alice"
    assert data["body"] == "hello"
    assert data["client_id"] == "c-1"
    assert data["edited_at"] is None
    assert data["deleted"] is False


def test_posting_keeps_the_body_as_text_not_html(api_client, alice, room):
    body = "<b>bold</b> & <script>alert(1)</script>"
    data = api_client(alice).post(f"/api/rooms/{room.id}/messages", {"body": body}).json()
    assert data["body"] == body
    listed = api_client(alice).get(f"/api/rooms/{room.id}/messages").json()["messages"]
    assert listed[0]["body"] == body


def test_posting_without_client_id_gives_null(api_client, alice, room):
    data = api_client(alice).post(f"/api/rooms/{room.id}/messages", {"body": "x"}).json()
    assert data["client_id"] is None


def test_posting_to_a_public_room_makes_me_a_member(api_client, bob, room):
    assert api_client(bob).post(f"/api/rooms/{room.id}/messages", {"body": "hi"}).status_code == 201
    assert Membership.objects.filter(room=room, user=bob).exists()


def test_a_repeated_client_id_is_stored_once(api_client, alice, room):
    api = api_client(alice)
    first = api.post(f"/api/rooms/{room.id}/messages", {"body": "once", "client_id": "k"}).json()
    second = api.post(f"/api/rooms/{room.id}/messages", {"body": "once", "client_id": "k"})
    assert second.status_code in (200, 201)
    assert second.json()["id"] == first["id"]
    assert Message.objects.count() == 1


def test_seqs_have_no_gaps(api_client, alice, room):
    api = api_client(alice)
    seqs = [
        api.post(f"/api/rooms/{room.id}/messages", {"body": f"m{i}"}).json()["seq"]
        for i in range(4)
    ]
    assert seqs == [1, 2, 3, 4]


def test_a_body_of_4000_characters_is_accepted(api_client, alice, room):
    response = api_client(alice).post(f"/api/rooms/{room.id}/messages", {"body": "x" * 4000})
    assert response.status_code == 201


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"body": ""},
        {"body": "  \n\t "},
        {"body": "x" * 4001},
        {"body": 5},
        {"body": None},
        {"body": ["hi"]},
        {"body": {"text": "hi"}},
        {"body": "bell\x07"},
        {"body": "nul\x00"},
        {"body": "esc\x1b[31m"},
        {"body": "hi", "client_id": 5},
        {"body": "hi", "client_id": ""},
        {"body": "hi", "client_id": "c" * 65},
    ],
)
def test_posting_refuses_bad_input_and_stores_nothing(api_client, alice, room, payload):
    before = counts()
    assert_error(api_client(alice).post(f"/api/rooms/{room.id}/messages", payload), 400)
    assert counts() == before


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"[1, 2]", b'"hello"', b"null", b"\xff\xfe", b"{"],
    ids=["broken", "array", "string", "null", "not-utf8", "truncated"],
)
def test_malformed_json_is_a_400_not_a_500(client, alice, room, raw):
    headers = {"Authorization": f"Bearer {token_for(alice)}"}
    before = counts()
    for path in (
        f"/api/rooms/{room.id}/messages",
        "/api/rooms",
        "/api/direct",
        f"/api/rooms/{room.id}/invite",
    ):
        response = client.post(path, raw, content_type="application/json", headers=headers)
        assert_error(response, 400)
    assert counts() == before


def test_a_form_encoded_body_is_a_400_not_a_500(client, alice, room):
    headers = {"Authorization": f"Bearer {token_for(alice)}"}
    response = client.post(f"/api/rooms/{room.id}/messages", {"body": "hi"}, headers=headers)
    assert_error(response, 400)
    assert Message.objects.count() == 0


def test_posting_too_fast_answers_429_with_retry_after(api_client, alice, room, settings):
    settings.CHAT_SEND_BURST = 2
    api = api_client(alice)
    for i in range(2):
        assert api.post(f"/api/rooms/{room.id}/messages", {"body": f"m{i}"}).status_code == 201
    response = api.post(f"/api/rooms/{room.id}/messages", {"body": "one too many"})
    assert_error(response, 429)
    assert int(response["Retry-After"]) >= 1
    assert Message.objects.count() == 2


def test_posting_to_a_missing_room_is_404(api_client, alice):
    assert_error(api_client(alice).post("/api/rooms/999/messages", {"body": "hi"}), 404)
    assert Message.objects.count() == 0


def test_posting_to_an_archived_room_is_refused(api_client, alice, room):
    Room.objects.filter(pk=room.pk).update(is_archived=True)
    assert_error(api_client(alice).post(f"/api/rooms/{room.id}/messages", {"body": "hi"}), 403)
    assert Message.objects.count() == 0


# --- reading and paging ------------------------------------------------------------------------


def _page(api, room, **params):
    response = api.get(f"/api/rooms/{room.id}/messages", **params)
    assert response.status_code == 200, response.content
    data = response.json()
    for message in data["messages"]:
        assert_is_message(message)
    assert isinstance(data["has_more"], bool)
    return [m["seq"] for m in data["messages"]], data["has_more"]


def test_an_empty_room_has_no_messages(api_client, alice, room):
    assert _page(api_client(alice), room) == ([], False)


def test_without_cursors_it_answers_the_newest_page_oldest_first(api_client, alice, room):
    posts(room, alice, 7)
    api = api_client(alice)
    assert _page(api, room, limit=3) == ([5, 6, 7], True)
    assert _page(api, room, limit=7) == ([1, 2, 3, 4, 5, 6, 7], False)
    assert _page(api, room, limit=10) == ([1, 2, 3, 4, 5, 6, 7], False)


def test_before_reads_the_older_messages_just_before_a_seq(api_client, alice, room):
    posts(room, alice, 7)
    api = api_client(alice)
    assert _page(api, room, before=5, limit=2) == ([3, 4], True)
    assert _page(api, room, before=3, limit=2) == ([1, 2], False)
    assert _page(api, room, before=1) == ([], False)


def test_after_reads_the_first_messages_after_a_seq(api_client, alice, room):
    posts(room, alice, 7)
    api = api_client(alice)
    assert _page(api, room, after=2, limit=3) == ([3, 4, 5], True)
    assert _page(api, room, after=4, limit=3) == ([5, 6, 7], False)
    assert _page(api, room, after=7) == ([], False)
    assert _page(api, room, after=0, limit=2) == ([1, 2], True)


def test_before_past_the_end_reads_the_newest_page(api_client, alice, room):
    posts(room, alice, 3)
    assert _page(api_client(alice), room, before=100, limit=2) == ([2, 3], True)


def test_limit_defaults_to_50(api_client, alice, room, settings):
    settings.CHAT_SEND_BURST = 100
    posts(room, alice, 51)
    seqs, has_more = _page(api_client(alice), room)
    assert seqs == list(range(2, 52))
    assert has_more is True


def test_limit_is_at_most_200(api_client, alice, room, settings):
    settings.CHAT_SEND_BURST = 1000
    posts(room, alice, 201)
    api = api_client(alice)
    seqs, has_more = _page(api, room, limit=1000)
    assert len(seqs) == 200
    assert seqs[-1] == 201
    assert has_more is True
    assert len(_page(api, room, after=0, limit=200)[0]) == 200


def test_the_page_holds_messages_with_their_authors(api_client, alice, bob, room):
    post(room, alice, "from alice", client_id="a1")
    post(room, bob, "from bob")
    messages = api_client(bob).get(f"/api/rooms/{room.id}/messages").json()["messages"]
    texts = [m for m in messages if m["kind"] == "text"]
    assert [(m["author"], m["body"], m["client_id"]) for m in texts] == [
        ("alice", "from alice", "a1"),
        ("bob", "from bob", None),
    ]


def test_system_messages_have_no_author(api_client, alice, bob, carol, conference):
    api_client(bob).post(f"/api/rooms/{conference.id}/leave")
    messages = api_client(alice).get(f"/api/rooms/{conference.id}/messages").json()["messages"]
    assert messages[-1]["kind"] == "system"
    assert messages[-1]["author"] is None


def test_anyone_signed_in_may_read_a_public_room(api_client, alice, mallory, room):
    posts(room, alice, 2)
    assert _page(api_client(mallory), room) == ([1, 2], False)


@pytest.mark.parametrize(
    "params",
    [
        {"after": -1},
        {"before": -1},
        {"changed_after": -1},
        {"limit": 0},
        {"limit": -5},
        {"after": "abc"},
        {"before": "1.5"},
        {"limit": "many"},
        {"after": 1, "before": 5},
        {"after": 0, "wait": 31},
        {"after": 0, "wait": -1},
        {"after": 0, "wait": "soon"},
        {"after": 0, "wait": "nan"},
        {"after": 0, "wait": "inf"},
    ],
)
def test_reading_refuses_bad_parameters(api_client, alice, room, params):
    assert_error(api_client(alice).get(f"/api/rooms/{room.id}/messages", **params), 400)


@pytest.mark.parametrize(
    "path",
    [
        "/api/rooms/99999999999999999999999/messages",
        "/api/rooms/1/messages?after=99999999999999999999999",
        "/api/rooms/1/messages?before=99999999999999999999999",
        "/api/rooms/1/messages?changed_after=99999999999999999999999",
        "/api/rooms/1/messages?limit=99999999999999999999999",
    ],
)
def test_huge_numbers_never_cause_a_500(client, alice, room, path):
    path = path.replace("/rooms/1/", f"/rooms/{room.id}/")
    response = client.get(path, headers={"Authorization": f"Bearer {token_for(alice)}"})
    assert response.status_code < 500
    if response.status_code >= 400:
        assert_error(response)


def test_huge_message_ids_never_cause_a_500(api_client, alice):
    api = api_client(alice)
    assert_error(api.patch("/api/messages/99999999999999999999999", {"body": "x"}), 404)
    assert_error(api.delete("/api/messages/99999999999999999999999"), 404)


def test_reading_a_missing_room_is_404(api_client, alice):
    assert_error(api_client(alice).get("/api/rooms/999/messages"), 404)


# --- changed_after ------------------------------------------------------------------------------


def test_changed_after_answers_new_and_changed_messages_oldest_change_first(
    api_client, alice, room
):
    first, second, third = (post(room, alice, f"m{i}") for i in range(1, 4))
    api = api_client(alice)
    baseline = max(m["rev"] for m in api.get(f"/api/rooms/{room.id}/messages").json()["messages"])
    assert api.patch(f"/api/messages/{first.id}", {"body": "m1 edited"}).status_code == 200
    assert api.delete(f"/api/messages/{second.id}").status_code == 204
    fourth = post(room, alice, "m4")

    data = api.get(f"/api/rooms/{room.id}/messages", changed_after=baseline).json()
    messages = data["messages"]
    assert [m["seq"] for m in messages] == [first.seq, second.seq, fourth.seq]
    revs = [m["rev"] for m in messages]
    assert revs == sorted(revs) and revs[0] > baseline
    assert messages[0]["body"] == "m1 edited"
    assert messages[0]["edited_at"] is not None
    assert messages[1]["deleted"] is True
    assert messages[1]["body"] == ""
    assert third.seq not in [m["seq"] for m in messages]


def test_changed_after_zero_answers_everything(api_client, alice, room):
    posts(room, alice, 3)
    data = api_client(alice).get(f"/api/rooms/{room.id}/messages", changed_after=0).json()
    assert [m["seq"] for m in data["messages"]] == [1, 2, 3]
    assert data["has_more"] is False


# --- edit and delete ----------------------------------------------------------------------------


def test_the_author_can_edit_a_message(api_client, alice, room):
    message = post(room, alice, "typo")
    response = api_client(alice).patch(f"/api/messages/{message.id}", {"body": " fixed "})
    assert response.status_code == 200
    data = response.json()
    assert_is_message(data)
    assert data["body"] == "fixed"
    assert data["edited_at"] is not None
    assert data["rev"] > message.rev
    message.refresh_from_db()
    assert message.body == "fixed"


def test_someone_else_cannot_edit_a_message_they_can_see(api_client, alice, bob, room):
    message = post(room, alice, "mine")
    assert_error(api_client(bob).patch(f"/api/messages/{message.id}", {"body": "yours"}), 403)
    message.refresh_from_db()
    assert message.body == "mine"
    assert message.edited_at is None


@pytest.mark.parametrize(
    "payload", [{}, {"body": ""}, {"body": "x" * 4001}, {"body": 1}, {"body": "a\x00"}]
)
def test_editing_refuses_a_bad_body(api_client, alice, room, payload):
    message = post(room, alice, "keep")
    assert_error(api_client(alice).patch(f"/api/messages/{message.id}", payload), 400)
    message.refresh_from_db()
    assert message.body == "keep"


def test_the_author_can_delete_a_message(api_client, alice, room):
    message = post(room, alice, "oops")
    api = api_client(alice)
    assert api.delete(f"/api/messages/{message.id}").status_code == 204
    data = api.get(f"/api/rooms/{room.id}/messages").json()["messages"][0]
    assert data["deleted"] is True
    assert data["body"] == ""


def test_a_moderator_can_delete_but_a_member_cannot(api_client, alice, bob, carol, room):
    message = post(room, bob, "spam")
    assert_error(api_client(carol).delete(f"/api/messages/{message.id}"), 403)
    message.refresh_from_db()
    assert not message.deleted
    # alice owns the room.
    assert api_client(alice).delete(f"/api/messages/{message.id}").status_code == 204
    message.refresh_from_db()
    assert message.deleted


def test_a_deleted_message_cannot_be_edited(api_client, alice, room):
    message = post(room, alice, "gone")
    api = api_client(alice)
    api.delete(f"/api/messages/{message.id}")
    assert_error(api.patch(f"/api/messages/{message.id}", {"body": "back"}), 400)


# --- long poll -------------------------------------------------------------------------------------


def test_a_long_poll_answers_at_once_when_a_newer_message_exists(api_client, alice, room):
    posts(room, alice, 2)
    started = time.monotonic()
    seqs, has_more = _page(api_client(alice), room, after=1, wait=5)
    assert seqs == [2]
    assert time.monotonic() - started < 4


def test_a_long_poll_answers_empty_when_nothing_comes(api_client, alice, room):
    posts(room, alice, 1)
    started = time.monotonic()
    assert _page(api_client(alice), room, after=1, wait=1) == ([], False)
    assert time.monotonic() - started >= 0.9


def test_wait_of_30_seconds_is_allowed(api_client, alice, room):
    posts(room, alice, 1)
    assert _page(api_client(alice), room, after=0, wait=30) == ([1], False)


async def long_poll(room_id: int, user, **params):
    """GET the messages with AsyncClient, as Django's ASGI handler would serve it: in a
    ThreadSensitiveContext of its own, so the request's sync work (middleware) does not
    hold the one shared thread the socket's database calls need."""
    token = await database_sync_to_async(token_for)(user)
    async with ThreadSensitiveContext():
        return await AsyncClient().get(
            f"/api/rooms/{room_id}/messages", params, headers={"Authorization": f"Bearer {token}"}
        )


@pytest.mark.django_db(transaction=True)
async def test_a_waiting_long_poll_is_woken_by_a_message_sent_over_the_socket(room, alice, bob):
    await database_sync_to_async(post)(room, alice, "before")
    poll = asyncio.create_task(long_poll(room.id, bob, after=1, wait=20))
    await asyncio.sleep(0.3)
    assert not poll.done()  # nothing after seq 1 yet: it is waiting

    socket = await connect(alice)
    await join(socket, room.id)
    await socket.send_json_to(
        {"type": "send", "room": room.id, "body": "wake up", "client_id": "w1"}
    )
    await receive_type(socket, "message")

    # Far less than the 20 seconds the poll was allowed to wait.
    response = await asyncio.wait_for(poll, timeout=10)
    await socket.disconnect()
    assert response.status_code == 200
    messages = response.json()["messages"]
    assert [(m["seq"], m["body"], m["author"]) for m in messages] == [(2, "wake up", "alice")]


@pytest.mark.django_db(transaction=True)
async def test_a_waiting_long_poll_ignores_other_rooms(room, alice, bob):
    other = await database_sync_to_async(RoomFactory)(name="Other", creator=alice)
    poll = asyncio.create_task(long_poll(room.id, bob, after=0, wait=1))
    await asyncio.sleep(0.2)
    await database_sync_to_async(post)(other, alice, "elsewhere")
    response = await asyncio.wait_for(poll, timeout=5)
    assert response.json() == {"messages": [], "has_more": False}


async def api_call(method: str, path: str, user, data=None):
    """A JSON API call from an async test, served like long_poll."""
    token = await database_sync_to_async(token_for)(user)
    kwargs = {"headers": {"Authorization": f"Bearer {token}"}}
    if data is not None:
        kwargs.update(data=data, content_type="application/json")
    async with ThreadSensitiveContext():
        return await getattr(AsyncClient(), method)(path, **kwargs)


@pytest.mark.django_db(transaction=True)
async def test_a_message_posted_over_the_api_is_delivered_live_to_every_socket(room, alice, bob):
    sockets = [await connect(alice), await connect(bob)]
    for socket in sockets:
        await join(socket, room.id)
    response = await api_call(
        "post", f"/api/rooms/{room.id}/messages", alice, {"body": "over http", "client_id": "h1"}
    )
    assert response.status_code == 201
    for socket in sockets:
        frame = await receive_type(socket, "message")
        while frame["message"]["kind"] == "system":  # e.g. "bob joined"
            frame = await receive_type(socket, "message")
        assert frame["message"] == {**response.json(), "created_at": frame["message"]["created_at"]}
        assert frame["message"]["body"] == "over http"
    for socket in sockets:
        assert await nothing_more(socket, timeout=0.1)  # once, not twice
    for socket in sockets:
        await socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_edits_and_deletions_over_the_api_reach_joined_sockets(room, alice, bob):
    message = await database_sync_to_async(post)(room, alice, "first draft")
    socket = await connect(bob)
    await join(socket, room.id)

    edited = await api_call("patch", f"/api/messages/{message.id}", alice, {"body": "final"})
    assert edited.status_code == 200
    frame = await receive_type(socket, "message_updated")
    assert frame["message"]["seq"] == message.seq
    assert frame["message"]["body"] == "final"
    assert frame["message"]["edited_at"] is not None

    deleted = await api_call("delete", f"/api/messages/{message.id}", alice)
    assert deleted.status_code == 204
    frame = await receive_type(socket, "message_deleted")
    assert frame == {"type": "message_deleted", "room": room.id, "seq": message.seq}
    await socket.disconnect()


# --- OpenAPI --------------------------------------------------------------------------------------


def test_the_openapi_schema_lists_every_path(client, db):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    paths = schema["paths"]
    expected = {
        "/api/token": "post",
        "/api/rooms": "post",
        "/api/direct": "post",
        "/api/rooms/{room_id}/invite": "post",
        "/api/rooms/{room_id}/leave": "post",
        "/api/rooms/{room_id}/messages": "get",
        "/api/tickets": "post",
        "/api/users": "get",
        "/api/messages/{message_id}": "patch",
    }
    for path, method in expected.items():
        assert method in paths.get(path, {}), f"{method.upper()} {path} missing"
    assert "get" in paths["/api/rooms"]
    assert "post" in paths["/api/rooms/{room_id}/messages"]
    assert "delete" in paths["/api/messages/{message_id}"]


def test_the_api_is_usable_with_a_token_from_the_token_endpoint(client, alice, room):
    token = client.post(
        "/api/token", {"username": "alice", "password": PASSWORD}, content_type="application/json"
    ).json()["token"]
    response = client.get("/api/rooms", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
