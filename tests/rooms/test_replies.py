"""Replies: a message may name the seq of the message it answers in the same room
(CONTRACT.md, "Replies and old clients"), and every copy of it carries `reply_to`."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from rooms import selectors, services
from rooms.errors import InvalidInput
from rooms.models import Message, Room
from tests.conftest import connect, join, receive_type
from tests.factories import RoomFactory

from .test_api import assert_error, assert_is_message


def post(room, user, body, **extra) -> Message:
    return services.message_post(room=room, author=user, body=body, **extra)[0]


def api_post(api, room, payload):
    return api.post(f"/api/rooms/{room.id}/messages", payload)


def replies_path(room, seq) -> str:
    return f"/api/rooms/{room.id}/messages/{seq}/replies"


@pytest.fixture
def private_room(alice, bob, carol):
    return services.room_create(
        creator=alice, name="Plans", kind="conference", members=["bob", "carol"]
    )


# --- posting a reply ------------------------------------------------------------------------


def test_a_reply_posted_over_the_api_carries_reply_to_in_the_answer_and_in_history(
    api_client, alice, bob, room
):
    post(room, alice, "lunch?")
    response = api_post(api_client(bob), room, {"body": "yes", "reply_to": 1})
    assert response.status_code == 201, response.content
    answer = response.json()
    assert_is_message(answer)
    assert answer["reply_to"] == 1
    assert answer["seq"] == 2
    assert Message.objects.get(room=room, seq=2).reply_to_seq == 1

    history = api_client(alice).get(f"/api/rooms/{room.id}/messages").json()["messages"]
    assert [(m["seq"], m["reply_to"]) for m in history] == [(1, None), (2, 1)]


def test_a_message_that_replies_to_nothing_carries_null(api_client, alice, room):
    for payload in ({"body": "plain"}, {"body": "explicit", "reply_to": None}):
        response = api_post(api_client(alice), room, payload)
        assert response.status_code == 201, response.content
        assert response.json()["reply_to"] is None


def test_a_reply_to_a_deleted_message_is_allowed(api_client, alice, bob, room):
    parent = post(room, alice, "oops")
    assert api_client(alice).delete(f"/api/messages/{parent.id}").status_code == 204
    response = api_post(api_client(bob), room, {"body": "what was it?", "reply_to": parent.seq})
    assert response.status_code == 201, response.content
    assert response.json()["reply_to"] == parent.seq


def test_a_reply_to_a_system_message_is_allowed(api_client, alice, bob, private_room):
    notice = services.post_system_message(room=private_room, body="bob was here")
    response = api_post(api_client(bob), private_room, {"body": "hi", "reply_to": notice.seq})
    assert response.status_code == 201, response.content
    assert response.json()["reply_to"] == notice.seq


def test_a_repeated_client_id_answers_the_original_reply(api_client, alice, bob, room):
    post(room, alice, "one")
    post(room, alice, "two")
    api = api_client(bob)
    first = api_post(api, room, {"body": "re", "client_id": "c1", "reply_to": 1}).json()
    again = api_post(api, room, {"body": "re", "client_id": "c1", "reply_to": 2}).json()
    assert again == first
    assert again["reply_to"] == 1
    assert Message.objects.filter(room=room).count() == 3


@pytest.mark.parametrize(
    "reply_to",
    [
        "1",
        True,
        False,
        1.0,
        1.5,
        0,
        -1,
        2**63,
        10**30,
        [1],
        {"seq": 1},
    ],
    ids=[
        "string",
        "true",
        "false",
        "float-whole",
        "float",
        "zero",
        "negative",
        "huge",
        "huger",
        "list",
        "object",
    ],
)
def test_a_reply_to_with_a_wrong_type_or_range_is_a_400_and_stores_nothing(
    api_client, alice, room, reply_to
):
    post(room, alice, "parent")
    before = (Message.objects.count(), Room.objects.get(pk=room.pk).last_seq)
    response = api_post(api_client(alice), room, {"body": "re", "reply_to": reply_to})
    assert_error(response, 400)
    assert (Message.objects.count(), Room.objects.get(pk=room.pk).last_seq) == before


def test_a_reply_to_a_missing_seq_is_a_400_and_stores_nothing(api_client, alice, room):
    post(room, alice, "only one")
    api = api_client(alice)
    for seq in (2, 3, 999):
        data = assert_error(api_post(api, room, {"body": "re", "reply_to": seq}), 400)
        assert data["detail"] == "reply_to names no message in this room."
    room.refresh_from_db()
    assert room.last_seq == 1
    assert Message.objects.filter(room=room).count() == 1
    # The seqs refused were never taken: the next message is seq 2.
    assert api_post(api, room, {"body": "next"}).json()["seq"] == 2


def test_a_reply_to_another_rooms_message_is_a_400(api_client, alice, room):
    other = RoomFactory(name="Other", creator=alice)
    post(other, alice, "a")
    post(other, alice, "b")
    post(room, alice, "only one here")
    data = assert_error(api_post(api_client(alice), room, {"body": "re", "reply_to": 2}), 400)
    assert data["detail"] == "reply_to names no message in this room."
    assert Message.objects.filter(room=room).count() == 1


def test_a_refused_reply_does_not_make_me_a_member_of_a_public_room(api_client, bob, room):
    data = assert_error(api_post(api_client(bob), room, {"body": "re", "reply_to": 1}), 400)
    assert data["detail"]
    assert not selectors.is_member(user=bob, room=room)


@pytest.mark.parametrize("reply_to", ["1", True, 1.0, -3, 0, [1], {"seq": 1}])
def test_message_post_type_checks_a_raw_reply_to_itself(alice, room, reply_to):
    """The socket hands message_post the frame's raw value."""
    post(room, alice, "parent")
    with pytest.raises(InvalidInput) as refused:
        post(room, alice, "re", reply_to=reply_to)
    assert refused.value.detail
    assert Message.objects.count() == 1


def test_message_post_refuses_a_seq_not_yet_taken(alice, room):
    post(room, alice, "one")
    with pytest.raises(InvalidInput, match="names no message"):
        post(room, alice, "re", reply_to=2)
    reply = post(room, alice, "re", reply_to=1)
    assert (reply.seq, reply.reply_to_seq) == (2, 1)


# --- the replies endpoint -------------------------------------------------------------------


def _replies(api, room, seq, **params):
    response = api.get(replies_path(room, seq), **params)
    assert response.status_code == 200, response.content
    data = response.json()
    for message in data["messages"]:
        assert_is_message(message)
        assert message["reply_to"] == seq
    assert isinstance(data["has_more"], bool)
    return [m["seq"] for m in data["messages"]], data["has_more"]


def test_replies_are_listed_oldest_first_and_paged_with_after_and_limit(
    api_client, alice, bob, room, settings
):
    settings.CHAT_SEND_BURST = 100
    post(room, alice, "question")  # 1
    post(room, alice, "another")  # 2
    for i in range(5):
        post(room, bob, f"answer {i}", reply_to=1)  # 3, 5, 7, 9, 11
        post(room, bob, f"aside {i}", reply_to=2)  # 4, 6, 8, 10, 12
    api = api_client(alice)
    assert _replies(api, room, 1) == ([3, 5, 7, 9, 11], False)
    assert _replies(api, room, 1, limit=2) == ([3, 5], True)
    assert _replies(api, room, 1, after=5, limit=2) == ([7, 9], True)
    assert _replies(api, room, 1, after=9, limit=2) == ([11], False)
    assert _replies(api, room, 1, after=11) == ([], False)
    assert _replies(api, room, 2, limit=200) == ([4, 6, 8, 10, 12], False)


def test_a_message_without_replies_has_an_empty_list(api_client, alice, room):
    post(room, alice, "alone")
    assert _replies(api_client(alice), room, 1) == ([], False)


def test_deleted_replies_are_listed_as_deleted_like_in_history(api_client, alice, bob, room):
    post(room, alice, "question")
    reply = post(room, bob, "regret", reply_to=1)
    assert api_client(bob).delete(f"/api/messages/{reply.id}").status_code == 204
    messages = api_client(alice).get(replies_path(room, 1)).json()["messages"]
    assert [(m["seq"], m["deleted"], m["body"], m["reply_to"]) for m in messages] == [
        (2, True, "", 1)
    ]


def test_replies_to_a_missing_seq_are_404(api_client, alice, room):
    post(room, alice, "one")
    api = api_client(alice)
    for seq in (2, 0, -1, 10**12, 10**30):
        data = assert_error(api.get(replies_path(room, seq)), 404)
        assert data["detail"] == "Message not found."


@pytest.mark.parametrize(
    "params", [{"after": -1}, {"limit": 0}, {"limit": -5}, {"after": "abc"}, {"limit": "x"}]
)
def test_replies_refuse_bad_paging_parameters(api_client, alice, room, params):
    post(room, alice, "one")
    assert_error(api_client(alice).get(replies_path(room, 1), **params), 400)


def test_an_outsider_gets_404_for_a_private_rooms_replies_like_a_missing_room(
    api_client, alice, bob, mallory, private_room
):
    post(private_room, alice, "secret")
    post(private_room, bob, "secret reply", reply_to=1)
    assert _replies(api_client(bob), private_room, 1) == ([2], False)

    outsider = api_client(mallory)
    hidden = assert_error(outsider.get(replies_path(private_room, 1)), 404)
    missing = assert_error(outsider.get("/api/rooms/999999/messages/1/replies"), 404)
    assert hidden == missing


def test_anyone_signed_in_may_read_a_public_rooms_replies(api_client, alice, mallory, room):
    post(room, alice, "hello")
    post(room, alice, "me again", reply_to=1)
    assert _replies(api_client(mallory), room, 1) == ([2], False)


def test_replies_need_authentication(client, alice, room):
    post(room, alice, "hello")
    assert_error(client.get(replies_path(room, 1)), 401)


def test_a_page_of_replies_costs_two_queries(alice, bob, room, django_assert_num_queries):
    post(room, alice, "question")
    post(room, bob, "a", reply_to=1)
    post(room, alice, "b", reply_to=1)
    with django_assert_num_queries(2):
        rows, _ = selectors.message_replies(room=room, seq=1)
        assert [(m.author.username, m.reply_to_seq) for m in rows] == [("bob", 1), ("alice", 1)]


# --- every copy of a message carries reply_to -----------------------------------------------


def test_a_history_page_of_replies_still_costs_one_query(
    alice, bob, room, django_assert_num_queries
):
    from rooms import wire

    post(room, alice, "a")
    post(room, bob, "b", reply_to=1)
    with django_assert_num_queries(1):
        rows, _ = selectors.messages_page(room=room)
        assert [wire.message_dict(m)["reply_to"] for m in rows] == [None, 1]


def test_the_long_poll_answer_carries_reply_to(api_client, alice, bob, room):
    post(room, alice, "question")
    post(room, bob, "answer", reply_to=1)
    response = api_client(alice).get(f"/api/rooms/{room.id}/messages", after=1, wait=5)
    assert response.status_code == 200, response.content
    assert [(m["seq"], m["reply_to"]) for m in response.json()["messages"]] == [(2, 1)]


def test_changes_and_search_results_carry_reply_to(api_client, alice, bob, room):
    post(room, alice, "deploy today?")
    post(room, bob, "deploy tomorrow", reply_to=1)
    api = api_client(alice)
    changed = api.get(f"/api/rooms/{room.id}/messages", changed_after=0).json()["messages"]
    # The parent changed after its reply (its reply count, rooms/threads.py): last.
    assert [(m["seq"], m["reply_to"]) for m in changed] == [(2, 1), (1, None)]
    results = api.get("/api/search", q="tomorrow").json()["results"]
    assert [(m["seq"], m["reply_to"]) for m in results] == [(2, 1)]


def test_an_edited_reply_keeps_reply_to(api_client, alice, bob, room):
    post(room, alice, "question")
    reply = post(room, bob, "answr", reply_to=1)
    response = api_client(bob).patch(f"/api/messages/{reply.id}", {"body": "answer"})
    assert response.status_code == 200, response.content
    assert response.json()["reply_to"] == 1


def test_the_openapi_schema_names_reply_to_and_the_replies_path(client, db):
    schema = client.get("/api/openapi.json").json()
    assert "/api/rooms/{room_id}/messages/{seq}/replies" in schema["paths"]
    components = schema["components"]["schemas"]
    assert "reply_to" in components["MessageIn"]["properties"]
    assert "reply_to" in components["MessageOut"]["properties"]


@pytest.mark.django_db(transaction=True)
async def test_a_reply_posted_over_the_api_reaches_joined_sockets_with_reply_to(room, alice, bob):
    await database_sync_to_async(post)(room, alice, "question")
    socket = await connect(alice)
    joined = await join(socket, room.id)
    assert [(m["seq"], m["reply_to"]) for m in joined["messages"]] == [(1, None)]

    await database_sync_to_async(post)(room, bob, "answer", reply_to=1)
    frame = await receive_type(socket, "message")
    await socket.disconnect()
    assert (frame["message"]["seq"], frame["message"]["reply_to"]) == (2, 1)
