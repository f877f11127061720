"""The gateway in process: whisper lines and frames, and "* bob came in" / "* bob left"
lines for text-mode users, coalesced."""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from chatclient import comings
from rooms.realtime.gateway import Gateway
from rooms.realtime.gateway.protocol import whisper_line
from tests.conftest import connect, join, token_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def tokens(alice, bob, carol):
    return {user.username: token_for(user) for user in (alice, bob, carol)}


@pytest.fixture
async def gateway():
    gateway = Gateway()
    _, port = await gateway.start("127.0.0.1", 0)
    gateway.port = port
    yield gateway
    await gateway.stop()


async def line_client(gateway, token, room_id, *, json_mode=False):
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    writer.write(json.dumps({"token": token, "room": room_id, "json": json_mode}).encode() + b"\n")
    first = (await asyncio.wait_for(reader.readline(), 5)).decode()
    assert "joined" in first, first
    return reader, writer


async def next_line(reader, timeout=5.0, skip_presence=True) -> str:
    async with asyncio.timeout(timeout):
        while True:
            line = (await reader.readline()).decode().rstrip("\n")
            if skip_presence and line.startswith('{"type":"presence"'):
                continue
            return line


async def no_line(reader, timeout=0.5) -> bool:
    try:
        line = await next_line(reader, timeout)
    except TimeoutError:
        return True
    raise AssertionError(f"expected nothing, got {line!r}")


async def test_whisper_lines_for_both_and_the_frame_in_json_mode(gateway, room, tokens):
    a, a_out = await line_client(gateway, tokens["alice"], room.id)
    b, b_out = await line_client(gateway, tokens["bob"], room.id, json_mode=True)
    c, c_out = await line_client(gateway, tokens["carol"], room.id)
    try:
        a_out.write(b"/msg bob see you at 5\n")
        assert re.fullmatch(
            r"\[\d\d:\d\d\] \*you whisper to bob\*: see you at 5", await next_line(a)
        )
        frame = json.loads(await next_line(b))
        assert frame["type"] == "whisper" and frame["room"] == room.id
        assert (frame["from"], frame["to"], frame["text"]) == ("alice", "bob", "see you at 5")
        b_out.write(json.dumps({"body": "/w alice ok", "client_id": "x1"}).encode() + b"\n")
        assert re.fullmatch(r"\[\d\d:\d\d\] \*bob whispers to you\*: ok", await next_line(a))
        assert json.loads(await next_line(b))["ref"] == "x1"
        # A refusal is the usual notice line.
        a_out.write(b"/w alice talking to myself\n")
        assert await next_line(a) == "* /whisper: You cannot whisper to yourself."
        # carol heard comings (alice, bob were there first: nothing) and no whisper.
        assert await no_line(c)
    finally:
        for writer in (a_out, b_out, c_out):
            writer.close()


def test_a_whisper_line_is_terminal_safe():
    frame = {
        "from": "bob\x1b]0;x\x07",
        "to": "alice",
        "text": "hi\x1b[2J\nthere\u202e",
        "created_at": "2026-01-02T03:04:05+00:00",
    }
    line = whisper_line(frame, "alice")
    assert "\x1b" not in line and "\x07" not in line and "\u202e" not in line
    assert line == "[03:04] *bob\ufffd]0;x\ufffd whispers to you*: hi\ufffd[2J \u21b5 there\ufffd"


async def test_came_in_and_left_lines_are_coalesced(gateway, room, alice, bob, carol, monkeypatch):
    monkeypatch.setattr(comings, "WINDOW", 0.6)
    a, a_out = await line_client(gateway, await asyncio.to_thread(token_for, alice), room.id)
    try:
        b = await connect(bob)
        await join(b, room.id)
        assert await next_line(a) == "* bob came in"
        b2 = await connect(bob)  # a second tab: bob was in already
        await join(b2, room.id)
        # carol flaps: in and out within the window says nothing.
        c = await connect(carol)
        await join(c, room.id)
        await asyncio.sleep(0.3)
        await c.disconnect()
        assert await no_line(a, 1.2)
        await b.disconnect()  # bob's other tab is still in
        assert await no_line(a, 1.0)
        await b2.disconnect()
        assert await next_line(a) == "* bob left"
        assert await no_line(a, 1.0)
    finally:
        a_out.close()


async def test_json_mode_gets_presence_frames_not_lines(gateway, room, alice, bob, monkeypatch):
    monkeypatch.setattr(comings, "WINDOW", 0.1)
    a, a_out = await line_client(
        gateway, await asyncio.to_thread(token_for, alice), room.id, json_mode=True
    )
    try:
        b = await connect(bob)
        await join(b, room.id)
        frame = json.loads(await next_line(a, skip_presence=False))
        assert frame == {"type": "presence", "room": room.id, "online": ["alice", "bob"]}
        assert await no_line(a, 0.5)
        await b.disconnect()
    finally:
        a_out.close()
