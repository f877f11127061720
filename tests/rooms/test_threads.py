"""Threads (rooms/threads.py): a parent counts its replies and knows its newest one,
in the same transaction as the reply; deleting a reply recounts; a reply may stay in
its thread (`thread_only`, strict); the parent's change takes a rev, so a client that
was away learns of new replies and the new count through changed_after, once, in
order; nobody who may not read the room reads its threads by any door."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rooms import changes, moderation, selectors, services, wire
from rooms.errors import InvalidInput
from rooms.models import Message, Room
from tests.conftest import connect, join, nothing_more, receive_type, token_for
from tests.factories import RoomFactory, UserFactory
from tests.strategies import json_values

from .test_api import assert_error, assert_is_message

pytestmark = pytest.mark.django_db


def post(room, user, body, **extra) -> Message:
    return services.message_post(room=room, author=user, body=body, **extra)[0]


def fresh(message: Message) -> Message:
    return Message.objects.get(pk=message.pk)


def delete(message: Message, by) -> None:
    changes.message_delete(message=fresh(message), by=by)


def messages_path(room) -> str:
    return f"/api/rooms/{room.id}/messages"


# --- counts on the parent ------------------------------------------------------------------


def test_a_parent_counts_its_replies_and_knows_the_newest(alice, bob, room):
    parent = post(room, alice, "lunch?")
    assert (parent.reply_count, parent.last_reply_seq, parent.last_reply_at) == (0, None, None)
    post(room, alice, "unrelated")
    first = post(room, bob, "yes", reply_to=1)
    second = post(room, alice, "where?", reply_to=1, thread_only=True)
    parent = fresh(parent)
    assert parent.reply_count == 2
    assert parent.last_reply_seq == second.seq == 4
    assert parent.last_reply_at == second.created
    assert fresh(first).reply_count == 0  # a reply has no replies of its own
    assert Message.objects.get(room=room, seq=2).reply_count == 0


def test_the_parent_takes_the_rev_after_its_replys(alice, bob, room):
    post(room, alice, "question")
    reply = post(room, bob, "answer", reply_to=1)
    parent = Message.objects.get(room=room, seq=1)
    room.refresh_from_db()
    assert (reply.rev, parent.rev, room.last_rev) == (2, 3, 3)
    plain = post(room, alice, "thanks")
    assert plain.rev == 4  # a message that replies to nothing takes one rev, as before


def test_a_reply_to_a_reply_counts_on_the_reply_only(alice, bob, room):
    post(room, alice, "question")
    post(room, bob, "answer", reply_to=1)
    post(room, alice, "about that answer", reply_to=2)
    counts = dict(Message.objects.filter(room=room).values_list("seq", "reply_count"))
    assert counts == {1: 1, 2: 1, 3: 0}


def test_deleting_a_reply_recounts_its_parent(alice, bob, room):
    parent = post(room, alice, "question")
    first = post(room, bob, "one", reply_to=1)
    second = post(room, bob, "two", reply_to=1)
    rev_before = fresh(parent).rev
    delete(second, bob)
    parent = fresh(parent)
    assert (parent.reply_count, parent.last_reply_seq) == (1, first.seq)
    assert parent.last_reply_at == first.created
    assert parent.rev > fresh(second).rev > rev_before
    delete(second, bob)  # deleting again changes nothing
    assert fresh(parent).reply_count == 1
    delete(first, bob)
    parent = fresh(parent)
    assert (parent.reply_count, parent.last_reply_seq, parent.last_reply_at) == (0, None, None)


def test_a_moderator_deleting_a_reply_recounts_too(alice, bob, room):
    services.room_join(room=room, user=bob)
    post(room, alice, "question")
    reply = post(room, bob, "spam", reply_to=1)
    changes.message_delete(message=fresh(reply), by=alice)  # the owner moderates
    assert Message.objects.get(room=room, seq=1).reply_count == 0


def test_deleting_the_parent_keeps_its_count(alice, bob, room):
    parent = post(room, alice, "question")
    post(room, bob, "answer", reply_to=1)
    delete(parent, alice)
    data = wire.message_dict(fresh(parent))
    assert (data["deleted"], data["reply_count"], data["last_reply_seq"]) == (True, 1, 2)


@pytest.mark.parametrize("value", ["true", 1, 0, 1.0, [True], {"on": True}, "", "false"], ids=repr)
def test_thread_only_must_be_a_boolean(alice, room, value):
    post(room, alice, "parent")
    with pytest.raises(InvalidInput, match="thread_only must be true or false"):
        post(room, alice, "re", reply_to=1, thread_only=value)
    assert Message.objects.count() == 1
    assert fresh(Message.objects.get()).reply_count == 0


def test_thread_only_needs_a_reply(alice, room):
    with pytest.raises(InvalidInput, match="needs reply_to"):
        post(room, alice, "alone", thread_only=True)
    assert not Message.objects.exists()
    assert post(room, alice, "fine", thread_only=False).thread_only is False
    assert post(room, alice, "also fine", thread_only=None).thread_only is False


def test_a_repeated_client_id_answers_the_original_and_counts_once(alice, bob, room):
    post(room, alice, "question")
    first = post(room, bob, "re", reply_to=1, thread_only=True, client_id="c1")
    again = post(room, bob, "re", reply_to=1, thread_only=True, client_id="c1")
    assert again.pk == first.pk
    assert Message.objects.get(room=room, seq=1).reply_count == 1


def _post_queries(room, user, **extra) -> int:
    with CaptureQueriesContext(connection) as queries:
        post(room, user, "x", **extra)
    return len(queries)


def test_only_replies_pay_for_threads(alice, bob, room, settings):
    """Posting a message that replies to nothing costs what it did; a reply costs one
    UPDATE of its parent and one read of it for the broadcast."""
    settings.CHAT_SEND_BURST = 100
    post(room, alice, "warm up")  # alice is a member now
    plain = _post_queries(room, alice)
    assert _post_queries(room, alice) == plain
    reply = _post_queries(room, alice, reply_to=1)
    assert reply == plain + 2
    assert _post_queries(room, alice, reply_to=1, thread_only=True) == reply


def test_a_history_page_with_threads_costs_one_query(alice, bob, room, django_assert_num_queries):
    post(room, alice, "a")
    post(room, bob, "b", reply_to=1)
    post(room, bob, "c", reply_to=1, thread_only=True)
    with django_assert_num_queries(1):
        rows, _ = selectors.messages_page(room=room)
        shown = [wire.message_dict(m) for m in rows]
    assert [(m["reply_count"], m["last_reply_seq"], m["thread_only"]) for m in shown] == [
        (2, 3, False),
        (0, None, False),
        (0, None, True),
    ]


# --- the API -------------------------------------------------------------------------------


def test_a_thread_only_reply_over_the_api(api_client, alice, bob, room):
    api = api_client(bob)
    api_client(alice).post(messages_path(room), {"body": "question"})
    response = api.post(messages_path(room), {"body": "psst", "reply_to": 1, "thread_only": True})
    assert response.status_code == 201, response.content
    answer = response.json()
    assert_is_message(answer)
    assert (answer["reply_to"], answer["thread_only"], answer["reply_count"]) == (1, True, 0)

    history = api_client(alice).get(messages_path(room)).json()["messages"]
    parent, reply = history
    assert (parent["reply_count"], parent["last_reply_seq"]) == (1, 2)
    assert parent["last_reply_at"] == answer["created_at"]
    assert (parent["thread_only"], reply["thread_only"]) == (False, True)
    replies = api_client(alice).get(f"{messages_path(room)}/1/replies").json()
    assert [(m["seq"], m["thread_only"]) for m in replies["messages"]] == [(2, True)]
    plain = api.post(messages_path(room), {"body": "also", "reply_to": 1, "thread_only": False})
    assert plain.json()["thread_only"] is False


@pytest.mark.parametrize("value", ["true", 1, 0, 1.5, [], {}, "yes"], ids=repr)
def test_a_thread_only_that_is_not_a_boolean_is_a_400_and_stores_nothing(
    api_client, alice, room, value
):
    api = api_client(alice)
    api.post(messages_path(room), {"body": "parent"})
    response = api.post(messages_path(room), {"body": "re", "reply_to": 1, "thread_only": value})
    assert_error(response, 400)
    assert Message.objects.count() == 1


def test_thread_only_without_reply_to_is_a_400(api_client, alice, room):
    data = assert_error(
        api_client(alice).post(messages_path(room), {"body": "x", "thread_only": True}), 400
    )
    assert "reply_to" in data["detail"]
    assert not Message.objects.exists()


def test_deleting_a_reply_over_the_api_shows_in_the_parents_count(api_client, alice, bob, room):
    post(room, alice, "question")
    reply = post(room, bob, "oops", reply_to=1)
    assert api_client(bob).delete(f"/api/messages/{reply.id}").status_code == 204
    parent = api_client(alice).get(messages_path(room)).json()["messages"][0]
    assert (parent["reply_count"], parent["last_reply_seq"], parent["last_reply_at"]) == (
        0,
        None,
        None,
    )


def test_changed_after_brings_new_replies_their_deletion_and_the_count_once_in_order(
    api_client, alice, bob, conference
):
    post(conference, alice, "question")
    seen = Room.objects.get(pk=conference.pk).last_rev
    kept = post(conference, bob, "kept", reply_to=1)
    gone = post(conference, bob, "gone", reply_to=1, thread_only=True)
    delete(gone, bob)
    page = api_client(carol_of(conference)).get(messages_path(conference), changed_after=seen)
    assert page.status_code == 200, page.content
    changed = page.json()["messages"]
    assert [m["seq"] for m in changed] == [kept.seq, gone.seq, 1]
    assert [m["rev"] for m in changed] == sorted(m["rev"] for m in changed)
    assert changed[1]["deleted"] is True and changed[1]["thread_only"] is True
    assert (changed[2]["reply_count"], changed[2]["last_reply_seq"]) == (1, kept.seq)
    last = changed[-1]["rev"]
    again = api_client(alice).get(messages_path(conference), changed_after=last).json()
    assert again["messages"] == []


def carol_of(room):
    return room.memberships.get(user__username="carol").user


def test_the_openapi_schema_names_the_thread_fields(client, db):
    components = client.get("/api/openapi.json").json()["components"]["schemas"]
    assert "thread_only" in components["MessageIn"]["properties"]
    out = components["MessageOut"]["properties"]
    assert {"thread_only", "reply_count", "last_reply_seq", "last_reply_at"} <= set(out)


# --- who may read threads ------------------------------------------------------------------


def test_an_outsider_reads_no_private_thread_by_any_api_path(
    api_client, alice, bob, mallory, conference
):
    post(conference, alice, "secret")
    post(conference, bob, "secret reply", reply_to=1, thread_only=True)
    outsider = api_client(mallory)
    for path in (
        f"/api/rooms/{conference.id}/messages/1/replies",
        f"{messages_path(conference)}?changed_after=0",
        messages_path(conference),
    ):
        assert_error(outsider.get(path), 404)
    refused = outsider.post(
        messages_path(conference), {"body": "me too", "reply_to": 1, "thread_only": True}
    )
    assert_error(refused, 404)
    assert Message.objects.get(room=conference, seq=1).reply_count == 1
    assert outsider.get("/api/search", q="secret").json()["results"] == []


def test_a_banned_user_can_neither_read_nor_answer_a_thread(api_client, alice, bob, room):
    services.room_join(room=room, user=bob)
    post(room, alice, "question")
    post(room, alice, "answer", reply_to=1, thread_only=True)
    moderation.member_ban(room=room, by=alice, username="bob", reason="spam")
    api = api_client(bob)
    assert_error(api.get(f"{messages_path(room)}/1/replies"), 403)
    answer = api.post(messages_path(room), {"body": "let me", "reply_to": 1, "thread_only": True})
    assert answer.status_code == 403
    assert Message.objects.get(room=room, seq=1).reply_count == 1


# --- sockets -------------------------------------------------------------------------------


async def _make(fn, *args, **kwargs):
    return await database_sync_to_async(fn)(*args, **kwargs)


@pytest.mark.django_db(transaction=True)
async def test_a_thread_reply_sent_over_the_socket_reaches_everyone_with_the_new_count(alice, bob):
    room = await _make(services.room_create, creator=alice, name="Lobby")
    await _make(post, room, alice, "question")
    writer, reader = await connect(bob), await connect(alice)
    await join(writer, room.id)
    await join(reader, room.id)
    await writer.send_json_to(
        {
            "type": "send",
            "room": room.id,
            "body": "in the thread",
            "client_id": "t1",
            "reply_to": 1,
            "thread_only": True,
        }
    )
    for socket in (writer, reader):
        message = (await receive_type(socket, "message"))["message"]
        assert (message["seq"], message["reply_to"], message["thread_only"]) == (2, 1, True)
        parent = (await receive_type(socket, "message_updated"))["message"]
        assert (parent["seq"], parent["reply_count"], parent["last_reply_seq"]) == (1, 1, 2)
        assert parent["rev"] == message["rev"] + 1
        assert await nothing_more(socket)
    await writer.disconnect()
    await reader.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_bad_thread_only_frame_is_an_error_frame_and_the_socket_stays(alice):
    room = await _make(services.room_create, creator=alice, name="Lobby")
    await _make(post, room, alice, "question")
    socket = await connect(alice)
    await join(socket, room.id)
    for value in ("yes", 1, [True], {"a": 1}):
        await socket.send_json_to(
            {
                "type": "send",
                "room": room.id,
                "body": "x",
                "client_id": "bad",
                "reply_to": 1,
                "thread_only": value,
            }
        )
        error = await receive_type(socket, "error")
        assert (error["code"], error["ref"]) == ("invalid", "bad")
    await socket.send_json_to(
        {"type": "send", "room": room.id, "body": "x", "client_id": "c", "thread_only": True}
    )
    error = await receive_type(socket, "error")
    assert error["code"] == "invalid" and "reply_to" in error["detail"]
    assert await _make(Message.objects.count) == 1
    await socket.send_json_to({"type": "send", "room": room.id, "body": "still here"})
    assert (await receive_type(socket, "message"))["message"]["body"] == "still here"
    await socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_socket_that_was_away_gets_replies_and_counts_once_in_order(alice, bob, carol):
    room = await _make(
        services.room_create,
        creator=alice,
        name="Trio",
        kind=Room.Kind.CONFERENCE,
        members=["bob", "carol"],
    )
    await _make(post, room, alice, "question")
    sleeper = await connect(carol)
    joined = await join(sleeper, room.id)
    last_seq, last_rev = joined["messages"][-1]["seq"], joined["last_rev"]
    await sleeper.disconnect()

    kept = await _make(post, room, bob, "kept", reply_to=1, thread_only=True)
    gone = await _make(post, room, bob, "gone", reply_to=1)
    await _make(delete, gone, bob)

    sleeper = await connect(carol)
    by_seq = await join(sleeper, room.id, after=last_seq)
    assert [(m["seq"], m["reply_to"], m["thread_only"]) for m in by_seq["messages"]] == [
        (kept.seq, 1, True),
        (gone.seq, 1, False),
    ]
    await sleeper.send_json_to({"type": "leave", "room": room.id})
    await receive_type(sleeper, "left")
    by_rev = await join(sleeper, room.id, changed_after=last_rev)
    changed = by_rev["messages"]
    assert [m["seq"] for m in changed] == [kept.seq, gone.seq, 1]
    assert changed[1]["deleted"] is True
    assert (changed[2]["reply_count"], changed[2]["last_reply_seq"]) == (1, kept.seq)
    await sleeper.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_outsiders_and_banned_users_get_no_thread_over_the_socket(alice, bob, mallory):
    conference = await _make(
        services.room_create,
        creator=alice,
        name="Trio",
        kind=Room.Kind.CONFERENCE,
        members=["bob", await _make(lambda: UserFactory(username="dave").username)],
    )
    public = await _make(services.room_create, creator=alice, name="Lobby")
    await _make(services.room_join, room=public, user=bob)
    await _make(moderation.member_ban, room=public, by=alice, username="bob", reason="spam")
    await _make(post, conference, alice, "secret")
    await _make(post, public, alice, "open")

    outsider, banned = await connect(mallory), await connect(bob)
    for socket, room_id, code in (
        (outsider, conference.id, "not_found"),
        (banned, public.id, "banned"),
    ):
        await socket.send_json_to({"type": "join", "room": room_id, "after": None})
        assert (await receive_type(socket, "error"))["code"] == code
        await socket.send_json_to(
            {
                "type": "send",
                "room": room_id,
                "body": "peek",
                "client_id": "p",
                "reply_to": 1,
                "thread_only": True,
            }
        )
        assert (await receive_type(socket, "error"))["code"] == code
    # Replies in either room reach neither of them, nor the parents' new counts.
    await _make(post, conference, alice, "secret reply", reply_to=1, thread_only=True)
    await _make(post, public, alice, "open reply", reply_to=1, thread_only=True)
    assert await nothing_more(outsider)
    assert await nothing_more(banned)
    counts = await _make(
        lambda: sorted(Message.objects.filter(seq=1).values_list("reply_count", flat=True))
    )
    assert counts == [1, 1]
    await outsider.disconnect()
    await banned.disconnect()


# --- fuzz ----------------------------------------------------------------------------------

THREAD_ONLY_VALUES = st.one_of(
    st.booleans(), st.none(), json_values(text_size=10, key_size=6, max_leaves=6)
)


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(thread_only=THREAD_ONLY_VALUES, reply_to=st.one_of(st.none(), st.just(1)))
def test_fuzz_thread_only_is_stored_exactly_when_it_is_a_boolean_for_a_reply(
    settings, thread_only, reply_to
):
    settings.CHAT_SEND_BURST = 10_000
    with transaction.atomic():
        user = UserFactory()
        room = RoomFactory(creator=user)
        post(room, user, "parent")
        api = Client(headers={"Authorization": f"Bearer {token_for(user)}"})
        payload = {"body": "re", "reply_to": reply_to, "thread_only": thread_only}
        response = api.post(messages_path(room), payload, content_type="application/json")
        valid = thread_only is None or (
            isinstance(thread_only, bool) and (reply_to is not None or not thread_only)
        )
        stored = Message.objects.filter(room=room).count()
        parent = Message.objects.get(room=room, seq=1)
        if valid:
            assert response.status_code == 201, response.content
            assert response.json()["thread_only"] is bool(thread_only)
            assert stored == 2
            assert parent.reply_count == (1 if reply_to else 0)
        else:
            assert response.status_code == 400, response.content
            assert isinstance(response.json()["detail"], str)
            assert (stored, parent.reply_count) == (1, 0)
        transaction.set_rollback(True)


@pytest.mark.django_db(transaction=True)
async def test_a_reply_is_never_a_command_its_text_is_stored_as_written(alice):
    room = await _make(services.room_create, creator=alice, name="Lobby")
    await _make(post, room, alice, "question")
    socket = await connect(alice)
    await join(socket, room.id)
    for n, body in enumerate(("/shrug", "//not a command", "/leave")):
        await socket.send_json_to(
            {
                "type": "send",
                "room": room.id,
                "body": body,
                "client_id": f"s{n}",
                "reply_to": 1,
                "thread_only": True,
            }
        )
        message = (await receive_type(socket, "message"))["message"]
        assert (message["body"], message["reply_to"], message["thread_only"]) == (body, 1, True)
        await receive_type(socket, "message_updated")
    # Without reply_to a slash is a command as before, and thread_only is still checked.
    await socket.send_json_to(
        {"type": "send", "room": room.id, "body": "/me waves", "client_id": "c", "thread_only": 1}
    )
    assert (await receive_type(socket, "error"))["code"] == "invalid"
    await socket.send_json_to({"type": "send", "room": room.id, "body": "/me waves"})
    message = (await receive_type(socket, "message"))["message"]
    assert (message["kind"], message["body"], message["reply_to"]) == ("action", "waves", None)
    assert await _make(lambda: Message.objects.get(room=room, seq=1).reply_count) == 3
    await socket.disconnect()
