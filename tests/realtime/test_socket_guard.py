"""No frame can kill a socket or leave a ghost: hostile frames get one `error` frame
each and the socket goes on delivering; however a socket ends, its user is offline and
its connection count is back to zero. Unknown paths are refused with 4404."""

from __future__ import annotations

import asyncio
import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatsite.asgi import application
from rooms.models import Message
from rooms.realtime import presence
from rooms.realtime.consumers import ChatConsumer
from tests.conftest import BACKGROUND_FRAMES, connect, join, receive_type
from tests.strategies import json_values

pytestmark = pytest.mark.django_db(transaction=True)

QUIET = (*BACKGROUND_FRAMES, "typing")
HOSTILE_CHARS = st.sampled_from(["\x00", "\ud800", "\udfff", "\udc00x", "a\x00b"])
JSON_VALUES = json_values(max_leaves=8)
HOSTILE_BODIES = st.one_of(
    JSON_VALUES.filter(lambda v: not isinstance(v, str)),
    st.tuples(st.text(max_size=20), HOSTILE_CHARS, st.text(max_size=20)).map("".join),
    st.sampled_from(["", "   ", "x" * 5000]),
)


def _raw_send(room_id: int, escaped_body: str) -> str:
    """A send frame whose body is written with JSON escapes (json.dumps cannot)."""
    return '{"type": "send", "room": ' + str(room_id) + ', "body": "' + escaped_body + '"}'


def _frame(room_id: int):
    typed = st.fixed_dictionaries(
        {
            "type": st.one_of(
                st.sampled_from(["join", "send", "leave", "read", "typing", "nope"]),
                JSON_VALUES,
            ),
            "room": st.one_of(st.just(room_id), JSON_VALUES),
            "body": HOSTILE_BODIES,
        },
        optional={
            "after": JSON_VALUES,
            "client_id": JSON_VALUES,
            "reply_to": JSON_VALUES,
            "thread_only": JSON_VALUES,
        },
    ).map(lambda d: json.dumps(d))
    depth = st.integers(min_value=33, max_value=5000)
    return st.one_of(
        typed,
        JSON_VALUES.map(json.dumps),
        depth.map(lambda n: "[" * n + "]" * n),
        depth.map(lambda n: '{"type":' * n),
        st.text(max_size=30),
        st.just(json.dumps({"type": "send", "room": room_id, "body": "x" * 70_000})),
        st.just(json.dumps({"type": {"a": 1}})),
        st.just(_raw_send(room_id, r"\ud800")),
        st.just(_raw_send(room_id, r"/me \ud800")),
        st.just(_raw_send(room_id, r"/nick a\u0000b")),
        st.just(_raw_send(room_id, r"/topic \udfff")),
    )


async def _replies(socket) -> list[dict]:
    """Every frame that is an answer (not presence, typing or read positions)."""
    replies = []
    while not await socket.receive_nothing(timeout=0.15):
        frame = await socket.receive_json_from()
        if frame["type"] not in QUIET:
            replies.append(frame)
    return replies


def _count() -> int:
    return Message.objects.count()


@pytest.fixture
def runner():
    with asyncio.Runner() as loop_runner:
        yield loop_runner


async def _offline(user) -> bool:
    for _ in range(30):
        online = await presence.store().online(presence.SITE)
        sockets = await presence.store().sockets_of(presence.SITE, user.pk)
        if user.username not in online and sockets == 0:
            return True
        await asyncio.sleep(0.1)
    return False


def test_hostile_frames_are_answered_and_the_socket_keeps_delivering(runner, room, alice):
    socket = runner.run(connect(alice))
    runner.run(join(socket, room.id))
    sent = 0

    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(frames=st.lists(_frame(room.id), min_size=1, max_size=4), binary=st.booleans())
    def case(frames, binary):
        nonlocal sent

        async def run():
            nonlocal sent
            before = await database_sync_to_async(_count)()
            for text in frames:
                await socket.send_input({"type": "websocket.receive", "text": text})
                replies = await _replies(socket)
                assert len(replies) <= 1, (text[:200], replies)
            if binary:
                await socket.send_to(bytes_data=b"\x00\xff")
                assert [r["code"] for r in await _replies(socket)] == ["invalid"]
            assert await database_sync_to_async(_count)() == before  # nothing stored
            # Still open, still joined (a hostile frame may have been a leave), still
            # delivering a real message.
            await socket.send_json_to({"type": "join", "room": room.id, "after": None})
            await receive_type(socket, "joined")
            sent += 1
            await socket.send_json_to(
                {"type": "send", "room": room.id, "body": f"real {sent}", "client_id": f"r{sent}"}
            )
            message = await receive_type(socket, "message")
            assert message["message"]["body"] == f"real {sent}"

        runner.run(run())

    case()
    runner.run(socket.disconnect())
    assert runner.run(_offline(alice))


@pytest.mark.parametrize(
    "text",
    [
        json.dumps({"type": {"a": 1}}),
        "[" * 1500 + "]" * 1500,
        '{"type": "send", "room": 1, "body": "\\ud800"}',
        '{"type": "send", "room": 1, "body": "/me \\ud800"}',
        '{"type": "send", "room": 1, "body": "/nick \\u0000"}',
        '{"type": "send", "room": 1, "body": "/topic \\udfff"}',
        '{"type": ["join"]}',
        '{"type": 7}',
        '{"type": "join", "room": 99999999999999999999999}',
    ],
)
async def test_each_crash_of_old_is_an_invalid_error_frame(room, alice, text):
    socket = await connect(alice)
    await socket.send_to(text_data=text)
    error = await receive_type(socket, "error")
    assert error["code"] == "invalid" and error["detail"]
    await socket.send_json_to({"type": "ping"})
    assert (await receive_type(socket, "pong"))["type"] == "pong"
    await socket.disconnect()


async def test_twenty_five_hostile_sockets_leave_no_ghosts(room, alice, settings):
    """Each socket is sent what used to crash it, then closed: the per-user cap (20)
    never fills up with dead sockets."""
    for _ in range(25):
        socket = await connect(alice)
        await socket.send_to(text_data='{"type": {"a": 1}}')
        await receive_type(socket, "error")
        await socket.disconnect()
    assert await _offline(alice)
    socket = await connect(alice)
    await join(socket, room.id)
    await socket.disconnect()


async def test_a_server_fault_in_a_handler_is_an_internal_error_frame(room, alice, monkeypatch):
    async def broken(self, frame):
        raise RuntimeError("a bug")

    monkeypatch.setitem(ChatConsumer.HANDLERS, "ping", broken)
    socket = await connect(alice)
    await socket.send_json_to({"type": "ping"})
    error = await receive_type(socket, "error")
    assert error["code"] == "internal"
    await join(socket, room.id)  # still open and working
    await socket.disconnect()
    assert await _offline(alice)


async def test_a_connect_that_fails_half_way_is_cleaned_up(room, alice, monkeypatch):
    """A fault after the socket registered on the site (here: starting its heartbeat)
    still leaves the user offline with no socket counted."""

    def broken(*args, **kwargs):
        raise RuntimeError("no heartbeat today")

    monkeypatch.setattr("rooms.realtime.cleanup.ensure_background_loop", broken)
    token = await database_sync_to_async(__import__("tests.conftest").conftest.token_for)(alice)
    communicator = WebsocketCommunicator(
        application, "/ws/chat/", headers=[(b"authorization", f"Bearer {token}".encode())]
    )
    try:
        await communicator.connect()
        await communicator.receive_output(timeout=1)
    except Exception:  # the application raised: what the server would log
        pass
    assert await _offline(alice)


@pytest.mark.parametrize("path", ["/mychat", "/chat", "/ws/chat/extra", "/"])
async def test_unknown_socket_paths_are_closed_with_4404(path):
    communicator = WebsocketCommunicator(application, path)
    connected, _ = await communicator.connect()
    assert connected
    assert await communicator.receive_output(timeout=2) == {"type": "websocket.close", "code": 4404}


async def test_an_event_for_a_client_that_just_closed_is_dropped_quietly(room, alice, bob, caplog):
    """The client closed, its `websocket.disconnect` is still queued, and a presence
    event for it comes first: daphne answers that send with autobahn's Disconnected
    (the ERROR "chat.presence failed" once seen in a worker's log). The socket drops
    the event without a word and then cleans up as usual."""
    from autobahn.exception import Disconnected

    closed = asyncio.Event()

    async def like_daphne(scope, receive, send):
        async def sending(message):
            if closed.is_set() and message["type"] == "websocket.send":
                raise Disconnected("Attempt to send on a closed protocol")
            await send(message)

        await application(scope, receive, sending)

    token = await database_sync_to_async(__import__("tests.conftest").conftest.token_for)(alice)
    socket = WebsocketCommunicator(
        like_daphne, "/ws/chat/", headers=[(b"authorization", f"Bearer {token}".encode())]
    )
    assert (await socket.connect())[0]
    await join(socket, room.id)
    closed.set()
    caplog.set_level("DEBUG", logger="rooms.realtime.consumers")
    other = await connect(bob)
    await join(other, room.id)  # alice's socket hears bob arrive: a presence event
    for _ in range(50):
        if any("after the client closed" in r.getMessage() for r in caplog.records):
            break
        await asyncio.sleep(0.05)
    assert any("chat.presence after the client closed" in r.getMessage() for r in caplog.records)
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "WARNING")]
    await socket.disconnect()
    await other.disconnect()
    assert await _offline(alice)
