from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from chatsite.asgi import application
from rooms import services
from rooms.models import Message
from tests.conftest import connect, join, nothing_more, receive_type

pytestmark = pytest.mark.django_db(transaction=True)


async def post(room, user, body, client_id=None):
    return await database_sync_to_async(services.message_post)(
        room=room, author=user, body=body, client_id=client_id
    )


async def test_unauthenticated_socket_is_accepted_then_closed_4401(db):
    communicator = WebsocketCommunicator(application, "/ws/chat/")
    connected, _ = await communicator.connect()
    assert connected
    closed = await communicator.receive_output(timeout=2)
    assert closed == {"type": "websocket.close", "code": 4401}


async def test_a_bad_token_is_refused_with_4401(db):
    communicator = WebsocketCommunicator(
        application, "/ws/chat/", headers=[(b"authorization", b"Bearer nope")]
    )
    await communicator.connect()
    assert (await communicator.receive_output(timeout=2))["code"] == 4401


async def test_send_is_broadcast_to_every_joined_socket_including_the_sender(room, alice, bob):
    a = await connect(alice)
    b = await connect(bob)
    await join(a, room.id)
    await join(b, room.id)
    await a.send_json_to({"type": "send", "room": room.id, "body": "hello", "client_id": "c1"})
    for socket in (a, b):
        frame = await receive_type(socket, "message")
        assert frame["message"]["body"] == "hello"
        assert frame["message"]["author"] == "alice"
        assert frame["message"]["seq"] == 1
        assert frame["message"]["client_id"] == "c1"
        assert frame["message"]["kind"] == "text"
    assert await nothing_more(b, timeout=0.2)
    await a.disconnect()
    await b.disconnect()


async def test_join_replays_only_what_was_missed(room, alice, bob):
    for i in range(1, 6):
        await post(room, alice, f"m{i}")
    b = await connect(bob)
    joined = await join(b, room.id, after=3)
    assert [m["seq"] for m in joined["messages"]] == [4, 5]
    assert "bob" in joined["online"]
    await b.disconnect()


async def test_join_without_after_gets_the_newest_page(room, alice):
    for i in range(1, 4):
        await post(room, alice, f"m{i}")
    a = await connect(alice)
    joined = await join(a, room.id, after=None)
    assert [m["body"] for m in joined["messages"]] == ["m1", "m2", "m3"]
    await a.disconnect()


async def test_rejoin_after_gap_replays_missed_messages_once(room, alice, bob):
    b = await connect(bob)
    await join(b, room.id)
    await post(room, alice, "one")
    assert (await receive_type(b, "message"))["message"]["seq"] == 1
    await b.disconnect()
    await post(room, alice, "two")
    await post(room, alice, "three")
    b = await connect(bob)
    joined = await join(b, room.id, after=1)
    assert [m["body"] for m in joined["messages"]] == ["two", "three"]
    await post(room, alice, "four")
    frame = await receive_type(b, "message")
    assert frame["message"]["body"] == "four"
    assert await nothing_more(b, timeout=0.2)
    await b.disconnect()


async def test_a_lost_event_is_repaired_from_the_database_in_order(room, alice, bob):
    b = await connect(bob)
    await join(b, room.id)
    # Store two messages without broadcasting, as if the channel layer dropped them.
    from rooms.realtime import events

    original = events.message_created
    events.message_created = lambda message: None
    try:
        await post(room, alice, "lost 1")
        await post(room, alice, "lost 2")
    finally:
        events.message_created = original
    await post(room, alice, "arrives")
    bodies = [(await receive_type(b, "message"))["message"]["body"] for _ in range(3)]
    assert bodies == ["lost 1", "lost 2", "arrives"]
    assert await nothing_more(b, timeout=0.2)
    await b.disconnect()


async def test_an_event_already_delivered_is_dropped(room, alice, bob):
    from channels.layers import get_channel_layer

    from rooms import wire
    from rooms.realtime import events

    b = await connect(bob)
    await join(b, room.id)
    message, _ = await post(room, alice, "once")
    await receive_type(b, "message")
    replay = wire.frame("message", message={"seq": message.seq})
    await get_channel_layer().group_send(
        events.room_group(room.id),
        {"type": "chat.message", "room": room.id, "seq": message.seq, "frame": replay},
    )
    assert await nothing_more(b, timeout=0.3)
    await b.disconnect()


async def test_repeated_client_id_is_stored_once_and_answered_to_the_sender_only(room, alice, bob):
    a = await connect(alice)
    b = await connect(bob)
    await join(a, room.id)
    await join(b, room.id)
    send = {"type": "send", "room": room.id, "body": "once", "client_id": "dup"}
    await a.send_json_to(send)
    first = await receive_type(a, "message")
    await receive_type(b, "message")
    await a.send_json_to(send)
    again = await receive_type(a, "message")
    assert again["message"]["id"] == first["message"]["id"]
    assert await nothing_more(b, timeout=0.3)
    assert await database_sync_to_async(Message.objects.count)() == 1
    await a.disconnect()
    await b.disconnect()


async def test_private_room_is_not_found_for_non_members(alice, bob, carol, mallory):
    conference = await database_sync_to_async(services.room_create)(
        creator=alice, name="Private", kind="conference", members=["bob", "carol"]
    )
    m = await connect(mallory)
    await m.send_json_to({"type": "join", "room": conference.id, "after": None})
    hidden = await m.receive_json_from()
    await m.send_json_to({"type": "join", "room": 987654, "after": None})
    missing = await m.receive_json_from()
    assert hidden["code"] == missing["code"] == "not_found"
    assert hidden["detail"] == missing["detail"]
    await m.send_json_to({"type": "send", "room": conference.id, "body": "hi", "client_id": "x"})
    refused = await m.receive_json_from()
    assert refused == {**hidden, "ref": "x"}
    assert await database_sync_to_async(Message.objects.count)() == 0
    await m.disconnect()


BAD_FRAMES = [
    ("not json", "invalid"),
    ("[1, 2]", "invalid"),
    ('"just a string"', "invalid"),
    ('{"no": "type"}', "invalid"),
    ('{"type": "dance"}', "invalid"),
    ('{"type": "join"}', "invalid"),
    ('{"type": "join", "room": "1"}', "invalid"),
    ('{"type": "join", "room": true}', "invalid"),
    ('{"type": "join", "room": -1}', "invalid"),
    ('{"type": "join", "room": ROOM, "after": "x"}', "invalid"),
    ('{"type": "join", "room": 424242}', "not_found"),
    ('{"type": "send", "room": ROOM}', "invalid"),
    ('{"type": "send", "room": ROOM, "body": 5, "client_id": "a"}', "invalid"),
    ('{"type": "send", "room": ROOM, "body": "   ", "client_id": "a"}', "invalid"),
    ('{"type": "send", "room": ROOM, "body": "ok", "client_id": 7}', "invalid"),
    ('{"type": "leave", "room": null}', "invalid"),
]


@pytest.mark.parametrize("text, code", BAD_FRAMES)
async def test_every_bad_frame_gets_an_error_and_the_socket_stays_open(room, alice, text, code):
    a = await connect(alice)
    await a.send_to(text_data=text.replace("ROOM", str(room.id)))
    error = await a.receive_json_from()
    assert error["type"] == "error"
    assert error["code"] == code
    assert isinstance(error["detail"], str) and error["detail"]
    # Still open and working.
    joined = await join(a, room.id)
    assert joined["room"] == room.id
    assert await database_sync_to_async(Message.objects.count)() == 0
    await a.disconnect()


async def test_over_long_body_binary_and_oversized_frames_are_refused(room, alice):
    a = await connect(alice)
    await a.send_json_to({"type": "send", "room": room.id, "body": "x" * 4001, "client_id": "big"})
    error = await a.receive_json_from()
    assert error["code"] == "invalid" and error["ref"] == "big" and "4000" in error["detail"]
    await a.send_to(bytes_data=b"\x00\x01")
    assert (await a.receive_json_from())["code"] == "invalid"
    huge = json.dumps({"type": "send", "room": room.id, "body": "y" * 70_000, "client_id": "h"})
    await a.send_to(text_data=huge)
    error = await a.receive_json_from()
    assert error["code"] == "invalid" and "64 KiB" in error["detail"]
    await a.send_json_to({"type": "ping"})
    assert (await a.receive_json_from())["type"] == "pong"
    assert await database_sync_to_async(Message.objects.count)() == 0
    await a.disconnect()


async def test_leave_unsubscribes_but_keeps_membership(room, alice, bob):
    b = await connect(bob)
    await join(b, room.id)
    await b.send_json_to({"type": "leave", "room": room.id})
    assert await receive_type(b, "left") == {"type": "left", "room": room.id}
    await post(room, alice, "not for you")
    assert await nothing_more(b, timeout=0.3)
    from rooms.models import Membership

    assert await database_sync_to_async(Membership.objects.filter(room=room, user=bob).exists)()
    await b.disconnect()


async def test_sending_rate_limit_answers_rate_limited_and_keeps_the_socket(room, alice, settings):
    settings.CHAT_SEND_BURST = 2
    a = await connect(alice)
    await join(a, room.id)
    for i in range(3):
        await a.send_json_to(
            {"type": "send", "room": room.id, "body": f"m{i}", "client_id": f"r{i}"}
        )
    frames = []
    while len(frames) < 3:
        frame = await a.receive_json_from()
        if frame["type"] != "presence":
            frames.append(frame)
    errors = [f for f in frames if f["type"] == "error"]
    assert errors and errors[0]["code"] == "rate_limited" and errors[0]["retry_after"] >= 1
    assert errors[0]["ref"] == "r2"
    assert await database_sync_to_async(Message.objects.count)() == 2
    await a.disconnect()


async def test_presence_lists_a_user_with_many_tabs_once(room, alice, bob):
    tabs = [await connect(alice) for _ in range(3)]
    for tab in tabs:
        await join(tab, room.id)
    b = await connect(bob)
    joined = await join(b, room.id)
    assert joined["online"] == ["alice", "bob"]
    await tabs[0].disconnect()
    presence = await receive_type(b, "presence")
    assert presence["online"] == ["alice", "bob"]
    for tab in tabs[1:]:
        await tab.disconnect()
    while True:
        presence = await receive_type(b, "presence")
        if presence["online"] == ["bob"]:
            break
    await b.disconnect()


async def test_cookie_socket_from_a_foreign_origin_is_refused(client, alice, room):
    await database_sync_to_async(client.force_login)(alice)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    evil = WebsocketCommunicator(
        application,
        "/ws/chat/",
        headers=[(b"cookie", cookie), (b"origin", b"https://evil.example")],
    )
    await evil.connect()
    assert (await evil.receive_output(timeout=2))["code"] == 4401
    good = WebsocketCommunicator(
        application,
        "/ws/chat/",
        headers=[(b"cookie", cookie), (b"origin", b"http://127.0.0.1:8000")],
    )
    await good.connect()
    joined = await join(good, room.id)
    assert joined["room"] == room.id
    await good.disconnect()


async def test_logging_out_closes_that_sessions_sockets(client, alice):
    await database_sync_to_async(client.force_login)(alice)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    socket = WebsocketCommunicator(
        application,
        "/ws/chat/",
        headers=[(b"cookie", cookie), (b"origin", b"http://localhost:8000")],
    )
    await socket.connect()
    await socket.send_json_to({"type": "ping"})
    assert (await socket.receive_json_from())["type"] == "pong"
    await database_sync_to_async(client.post)("/accounts/logout/")
    assert (await socket.receive_output(timeout=2)) == {"type": "websocket.close", "code": 4401}


async def test_ticket_opens_one_socket_once(alice, room):
    from accounts import services as account_services

    ticket, _ = await database_sync_to_async(account_services.ticket_create)(user=alice)
    first = WebsocketCommunicator(application, f"/ws/chat/?ticket={ticket}")
    await first.connect()
    joined = await join(first, room.id)
    assert joined["room"] == room.id
    second = WebsocketCommunicator(application, f"/ws/chat/?ticket={ticket}")
    await second.connect()
    assert (await second.receive_output(timeout=2))["code"] == 4401
    await first.disconnect()


async def test_an_expired_ticket_is_refused_with_4401(alice):
    from datetime import timedelta

    from django.utils import timezone

    from accounts import services as account_services
    from accounts.models import WebSocketTicket

    ticket, _ = await database_sync_to_async(account_services.ticket_create)(user=alice)
    await database_sync_to_async(WebSocketTicket.objects.update)(
        expires=timezone.now() - timedelta(seconds=1)
    )
    late = WebsocketCommunicator(application, f"/ws/chat/?ticket={ticket}")
    await late.connect()
    assert (await late.receive_output(timeout=2)) == {"type": "websocket.close", "code": 4401}
    assert await database_sync_to_async(WebSocketTicket.objects.count)() == 0  # used up
