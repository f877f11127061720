"""Guests and the old clients' doors, in process: the TCP gateway's `{"name", "room"}`
join and the old browser clients' socket (rooms/realtime/compat.py) in its text and
`{"author", "body"}` forms, each chatting with a member on the chat socket. The old
clients' own programs (examples/) are driven over real processes in
tests/live/test_old_clients.py."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from channels.testing import WebsocketCommunicator
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from chatsite.asgi import application
from rooms.realtime.gateway import Gateway
from tests.conftest import connect, join, receive_type, token_for
from tests.factories import RoomFactory

pytestmark = pytest.mark.django_db(transaction=True)

TEXT_LINE = re.compile(r"\[\d\d:\d\d\] (.+)")


@pytest.fixture
def guests_on(settings):
    settings.CHAT_GUESTS = True


@pytest.fixture
def lobby(alice):
    return RoomFactory(name="Lobby", slug="lobby", creator=alice, open_to_guests=True)


@pytest.fixture
async def gateway():
    gateway = Gateway()
    _, gateway.port = await gateway.start("127.0.0.1", 0)
    yield gateway
    await gateway.stop()


async def read_line(reader, timeout=5.0) -> str:
    async with asyncio.timeout(timeout):
        return (await reader.readline()).decode().rstrip("\n")


async def member_socket(user, room_id):
    socket = await connect(user)
    await join(socket, room_id)
    return socket


async def test_a_guest_joins_by_name_with_no_newline_and_chats_with_a_member(
    guests_on, gateway, lobby, alice
):
    a = await member_socket(alice, lobby.id)
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    try:
        # The old client's bytes: its join object, no newline, then its first line.
        writer.write(b'{"name":"Mina","room":"lobby"}hello everyone\n')
        assert (await read_line(reader)).startswith("* ~Mina joined Lobby (room ")
        frame = await receive_type(a, "message")
        message = frame["message"]
        assert (message["author"], message["author_name"], message["body"]) == (
            "~Mina",
            "Mina (guest)",
            "hello everyone",
        )
        await a.send_json_to({"type": "send", "room": lobby.id, "body": "hi Mina"})
        lines = []
        while not any(line.endswith("alice: hi Mina") for line in lines):
            lines.append(await read_line(reader))
        # The guest's own line came back first, as every line does.
        assert TEXT_LINE.fullmatch(lines[0]).group(1) == "~Mina: hello everyone"
    finally:
        writer.close()
        await a.disconnect()


async def test_a_name_online_in_the_room_is_refused_in_one_line(guests_on, gateway, lobby):
    first_r, first_w = await asyncio.open_connection("127.0.0.1", gateway.port)
    first_w.write(b'{"name":"Mina","room":"lobby"}\n')
    assert "joined" in await read_line(first_r)
    second_r, second_w = await asyncio.open_connection("127.0.0.1", gateway.port)
    try:
        second_w.write(b'{"name":"mina","room":"lobby"}')
        assert await read_line(second_r) == (
            "! The name 'mina' is taken in this room; choose another."
        )
        assert await read_line(second_r) == ""  # and the door closes
    finally:
        first_w.close()
        second_w.close()


async def test_guests_off_or_a_closed_room_is_one_clear_line(gateway, lobby, room, settings):
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    writer.write(b'{"name":"Mina","room":"lobby"}')
    assert (await read_line(reader)).startswith("! Guest access is off on this site")
    writer.close()
    settings.CHAT_GUESTS = True
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    writer.write(b'{"name":"Mina","room":"general"}')
    assert await read_line(reader) == "! The room 'General' is not open to guests."
    writer.close()


async def test_a_guest_names_a_missing_room_into_being_where_allowed(
    guests_on, gateway, settings, alice
):
    settings.CHAT_GUEST_ROOMS = True
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    try:
        writer.write(b'{"name":"Mina","room":"dev"}\nfirst!\n')
        joined = await read_line(reader)
        room_id = int(re.search(r"\(room (\d+)\)", joined).group(1))
        assert joined.startswith("* ~Mina joined dev")
        assert (await read_line(reader)).endswith("~Mina: first!")
        a = await connect(alice)
        joined = await join(a, room_id)
        assert [m["body"] for m in joined["messages"]] == ["first!"]
        await a.disconnect()
    finally:
        writer.close()


# --- the old browser clients' socket ------------------------------------------------


async def compat(path="/ws/compat/"):
    socket = WebsocketCommunicator(application, path)
    connected, _ = await socket.connect()
    assert connected
    return socket


async def next_text(socket, timeout=5) -> str:
    return await socket.receive_from(timeout=timeout)


async def test_the_text_socket_joins_as_a_guest_and_chats(guests_on, lobby, alice):
    a = await member_socket(alice, lobby.id)
    old = await compat()
    await old.send_to(text_data=json.dumps({"name": "Mina", "room": "lobby"}))
    assert (await next_text(old)).startswith("* ~Mina joined Lobby")
    await old.send_to(text_data="hello from an old page")
    message = (await receive_type(a, "message"))["message"]
    assert (message["author_name"], message["body"]) == ("Mina (guest)", "hello from an old page")
    assert (await next_text(old)).endswith("~Mina: hello from an old page")
    await a.send_json_to({"type": "send", "room": lobby.id, "body": "welcome"})
    assert (await next_text(old)).endswith("alice: welcome")
    await old.disconnect()
    await a.disconnect()


async def test_the_object_socket_speaks_author_and_body(guests_on, lobby, alice):
    a = await member_socket(alice, lobby.id)
    old = await compat("/ws/compat/?format=objects")
    await old.send_to(text_data=json.dumps({"name": "Mina", "room": "lobby"}))
    banner = json.loads(await next_text(old))
    assert banner["author"] == "server" and banner["body"].startswith("* ~Mina joined")
    await old.send_to(text_data=json.dumps({"author": "Mina", "body": "hi all"}))
    assert (await receive_type(a, "message"))["message"]["body"] == "hi all"
    assert json.loads(await next_text(old)) == {"author": "Mina (guest)", "body": "hi all"}
    await a.send_json_to({"type": "send", "room": lobby.id, "body": "hello Mina"})
    assert json.loads(await next_text(old)) == {"author": "Alice", "body": "hello Mina"}
    await old.disconnect()
    await a.disconnect()


async def test_the_first_object_switches_an_auto_socket_to_objects(guests_on, lobby, bob):
    old = await compat()
    await old.send_to(text_data=json.dumps({"token": await _token(bob), "room": lobby.id}))
    assert (await next_text(old)).startswith("* bob joined Lobby")
    await old.send_to(text_data=json.dumps({"author": "whoever", "body": "objects now"}))
    # The author is the connection's user, whatever the object says.
    assert json.loads(await next_text(old)) == {"author": "Bob", "body": "objects now"}
    await old.disconnect()


async def test_a_binary_frame_and_a_nul_are_answered_not_posted(guests_on, lobby, alice):
    a = await member_socket(alice, lobby.id)
    old = await compat()
    await old.send_to(text_data=json.dumps({"name": "Mina", "room": "lobby"}))
    await next_text(old)
    await old.send_to(bytes_data=b"\x00\x01")
    assert await next_text(old) == "! Lines must be UTF-8 text."
    await old.send_to(text_data="mi\x00ne")
    assert await next_text(old) == "! The line contains a NUL character, which cannot be stored."
    # Not an {"author", "body"} object: a person's text, braces and all.
    await old.send_to(text_data='{"author": "x", "body": 7}')
    assert (await next_text(old)).endswith('~Mina: {"author": "x", "body": 7}')
    await old.send_to(text_data="still here")
    assert (await next_text(old)).endswith("~Mina: still here")
    bodies = [m["message"]["body"] async for m in _messages(a)]
    assert bodies == ['{"author": "x", "body": 7}', "still here"]
    await old.disconnect()
    await a.disconnect()


async def _messages(socket):
    while not await socket.receive_nothing(timeout=0.5):
        frame = await socket.receive_json_from()
        if frame["type"] == "message":
            yield frame


async def _token(user):
    return await asyncio.to_thread(token_for, user)


async def test_an_unknown_path_is_still_4404_and_extra_paths_reach_the_compat_socket(
    guests_on, lobby, settings
):
    from rooms.realtime import routing

    assert "ws/compat/" not in settings.CHAT_COMPAT_PATHS
    paths = [str(p.pattern) for p in routing.websocket_urlpatterns]
    assert "ws/compat/" in paths
    socket = WebsocketCommunicator(application, "/mychat")
    connected, _ = await socket.connect()
    assert connected
    assert (await socket.receive_output(timeout=3))["code"] == 4404


@pytest.fixture
def runner():
    with asyncio.Runner() as loop_runner:
        yield loop_runner


def test_hostile_frames_never_crash_the_compat_socket(guests_on, lobby, runner, settings):
    """Whatever the frames (text of any kind, binary, JSON of any shape), each is posted
    or answered with one "!" line, the socket stays open and still chats."""
    settings.CHAT_GUEST_SEND_BURST = 100000
    old = runner.run(compat())
    runner.run(old.send_to(text_data=json.dumps({"name": "Mina", "room": "lobby"})))
    assert runner.run(next_text(old)).startswith("* ~Mina joined")
    probes = 0

    @hsettings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        frames=st.lists(
            st.one_of(
                st.text(max_size=60),
                st.binary(max_size=20),
                st.builds(
                    json.dumps,
                    st.dictionaries(
                        st.text(max_size=8),
                        st.none() | st.integers() | st.text(max_size=8),
                        max_size=3,
                    ),
                ),
            ),
            max_size=5,
        )
    )
    def case(frames):
        nonlocal probes

        async def run():
            nonlocal probes
            for frame in frames:
                key = "bytes" if isinstance(frame, bytes) else "text"
                await old.send_input({"type": "websocket.receive", key: frame})
            probes += 1
            await old.send_to(text_data=f"probe {probes}")
            seen = []
            while not any(line.endswith(f"probe {probes}") for line in seen):
                seen.append(await next_text(old, timeout=10))
            assert not any("The server had a problem" in line for line in seen), seen

        runner.run(run())

    case()
    runner.run(old.disconnect())


async def test_an_idle_guest_expires_but_never_while_connected(guests_on, lobby, settings):
    from accounts.models import User
    from rooms.realtime import cleanup

    settings.CHAT_GUEST_IDLE = 0  # everyone is "idle" by the clock: presence decides
    old = await compat()
    await old.send_to(text_data=json.dumps({"name": "Mina", "room": "lobby"}))
    assert (await next_text(old)).startswith("* ~Mina joined")
    assert await cleanup.expire_idle_guests() == []  # connected: spared
    await old.disconnect()
    mina = await User.objects.aget(username="~Mina")
    for _ in range(50):  # the socket's goodbye (presence, last_seen) is asynchronous
        if await cleanup.expire_idle_guests() == [mina.pk]:
            break
        await asyncio.sleep(0.1)
    await mina.arefresh_from_db()
    assert not mina.is_active


async def test_a_banned_guest_is_cut_off_and_its_name_cannot_come_back(
    guests_on, gateway, lobby, alice
):
    from channels.db import database_sync_to_async

    from rooms import moderation

    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    writer.write(b'{"name":"Mina","room":"lobby"}\n')
    assert "joined" in await read_line(reader)
    await database_sync_to_async(moderation.member_ban)(
        room=lobby, by=alice, username="~Mina", reason="spam"
    )
    lines = []
    while (line := await read_line(reader)) != "":
        lines.append(line)
    assert "! You were banned from this room. Reason: spam" in lines
    writer.close()
    # The same name, now offline, is the same (banned) guest.
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    writer.write(b'{"name":"Mina","room":"lobby"}\n')
    assert await read_line(reader) == "! You are banned from this room. Reason: spam"
    writer.close()
