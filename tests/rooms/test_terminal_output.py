"""User text never reaches a terminal as escape sequences: the terminal client
(`python -m chatclient`) and the TCP gateway's text mode replace every control
character (C0 but the newline, C1, ESC, DEL, bidi controls) with a visible U+FFFD
(chatclient.terminal). The hostile text is stored with the ORM, as old data would be:
the services refuse it today."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from chatclient import render
from chatclient.session import Session
from chatclient.terminal import PLACEHOLDER, terminal_safe
from rooms.models import Message, Room
from rooms.realtime.gateway import Gateway
from rooms.realtime.gateway.protocol import text_line
from tests.conftest import token_for
from tests.factories import RoomFactory, UserFactory

# Retitle the window, ring, clear the screen, paint what follows red.
TOPIC = "\x1b]0;title\x07\x1b[2J\x1b[31mFAKE"
BIDI = "\u202egnp.exe\u202c \u2066isolated\u2069"
# What must never be written to a terminal: C0 but the newline, DEL, C1, the line and
# paragraph separators, and the bidi controls.
UNSAFE = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)
NOW = datetime(2026, 1, 2, 3, 4, tzinfo=UTC).isoformat()


def message(**fields) -> dict:
    return {
        "created_at": NOW,
        "deleted": False,
        "kind": "text",
        "author": "alice",
        "body": "hi",
        **fields,
    }


# --- the helper --------------------------------------------------------------------------


def test_every_control_character_becomes_a_visible_placeholder():
    shown = terminal_safe(TOPIC)
    assert not UNSAFE.search(shown)
    assert shown == f"{PLACEHOLDER}]0;title{PLACEHOLDER}{PLACEHOLDER}[2J{PLACEHOLDER}[31mFAKE"


@pytest.mark.parametrize(
    "character",
    ["\x00", "\x07", "\x08", "\r", "\x1b", "\x7f", "\x85", "\x9b", "\u2028", "\u202e", "\u2066"],
)
def test_each_kind_of_control_character_is_replaced(character):
    assert terminal_safe(f"a{character}b") == f"a{PLACEHOLDER}b"


def test_newlines_are_kept_or_replaced_and_a_tab_is_a_space():
    assert terminal_safe("one\ntwo\tthree") == "one\ntwo three"
    assert terminal_safe("one\ntwo", keep_newlines=False) == f"one{PLACEHOLDER}two"


def test_ordinary_text_is_untouched():
    text = "Zoë says “hi” 👋 — שלום"
    assert terminal_safe(text) == text


# --- the gateway's lines -----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["text", "action", "system"])
def test_a_gateway_text_line_carries_no_control_character(kind):
    line = text_line(message(kind=kind, author="eve\x1b[8m", body=f"{TOPIC}\nsecond\rline {BIDI}"))
    assert not UNSAFE.search(line) and "\n" not in line
    assert "FAKE" in line and PLACEHOLDER in line and "\u21b5" in line


# --- the terminal client's lines ---------------------------------------------------------


def test_the_clients_message_and_room_lines_carry_no_control_character():
    line = render.message_line(message(author="eve\x1b[8m", body=f"{TOPIC}\nsecond\rline"))
    assert not UNSAFE.search(line) and PLACEHOLDER in line
    assert line.split("\n")[1] == f"        second{PLACEHOLDER}line"  # extra lines indented
    room = {"id": 7, "name": f"Den{TOPIC}", "kind": "conference", "members": ["eve\x1b[8m"]}
    shown = render.room_line(room)
    assert not UNSAFE.search(shown) and "\n" not in shown and "FAKE" in shown


async def test_the_client_prints_joined_notices_and_errors_safely(capsys):
    session = Session(server="http://127.0.0.1:1", token="t", room={"id": 7, "name": f"Den{TOPIC}"})
    await session.on_joined(
        None,
        {
            "type": "joined",
            "room": 7,
            "online": ["alice", "eve\x1b[8m"],
            "messages": [
                {**message(body=TOPIC), "seq": 1, "room": 7, "client_id": None},
                {
                    **message(kind="system", author=None, body=f'set the topic to "{TOPIC}"'),
                    "seq": 2,
                    "room": 7,
                    "client_id": None,
                },
            ],
        },
    )
    await session.on_notice(None, {"type": "notice", "room": 7, "text": f"Online: {BIDI}"})
    await session.on_error(None, {"type": "error", "code": "invalid", "detail": TOPIC, "ref": "x"})
    out = capsys.readouterr().out
    assert not UNSAFE.search(out)
    assert out.count("FAKE") == 4 and PLACEHOLDER in out


# --- the gateway, end to end, on old data ------------------------------------------------


def _old_data():
    """A room, a user and messages holding escape sequences, stored as old data was."""
    alice = UserFactory(username="alice")
    eve = UserFactory(username="eve\x1b[2J")  # create_user takes what it is given
    room = RoomFactory(name=f"Den{TOPIC}", topic=TOPIC, creator=alice)
    bodies = [
        (eve, Message.Kind.TEXT, f"{TOPIC}\rfake line"),
        (alice, Message.Kind.SYSTEM, f'alice set the topic to "{TOPIC}"'),
        (eve, Message.Kind.ACTION, BIDI),
    ]
    for seq, (author, kind, body) in enumerate(bodies, start=1):
        Message.objects.create(
            room=room,
            seq=seq,
            rev=seq,
            author=None if kind == "system" else author,
            kind=kind,
            body=body,
        )
    Room.objects.filter(pk=room.pk).update(last_seq=3, last_rev=3, last_message_at=timezone.now())
    return room.pk, token_for(alice), token_for(eve)


async def _open(port: int, token: str, room_id: int):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(json.dumps({"token": token, "room": room_id}).encode() + b"\n")
    await writer.drain()
    return reader, writer


async def _read_until(reader, pattern: str, seen: list[bytes]) -> None:
    """Read lines into `seen` until one matches `pattern`."""
    try:
        async with asyncio.timeout(10):
            while not any(re.search(pattern.encode(), line) for line in seen):
                line = await reader.readline()
                assert line, f"closed; got {seen}"
                seen.append(line)
    except TimeoutError:
        raise AssertionError(f"no line like {pattern!r} in {seen}") from None


@pytest.mark.django_db(transaction=True)
async def test_the_gateway_text_mode_never_writes_a_control_character(settings):
    settings.CHAT_SEND_BURST = 1000
    room_id, alice_token, eve_token = await database_sync_to_async(_old_data)()
    gateway = Gateway()
    _, port = await gateway.start("127.0.0.1", 0)
    connections = []
    try:
        eve_reader, eve_writer = await _open(port, eve_token, room_id)
        connections.append(eve_writer)
        eve_lines: list[bytes] = []
        await _read_until(eve_reader, r"^\* eve.*joined Den", eve_lines)  # her own name
        reader, writer = await _open(port, alice_token, room_id)
        connections.append(writer)
        lines: list[bytes] = []
        await _read_until(reader, r"^\[\d\d:\d\d\] \* eve", lines)  # the history, to the end
        writer.write(b"/who\nhello \x1b[2J\n")  # a notice listing eve, then a refused line
        await writer.drain()
        await _read_until(reader, r"^\* Online: ", lines)
        await _read_until(reader, r"^! body must not contain control characters", lines)
    finally:
        for each in connections:
            each.close()
        await gateway.stop()

    everything = b"".join(eve_lines + lines).decode()
    assert not UNSAFE.search(everything), everything
    assert everything.count("\n") == len(eve_lines) + len(lines)  # one line is one line
    assert "\x1b" not in everything and PLACEHOLDER in everything
    text = "".join(line.decode() for line in lines)
    assert "FAKE" in text and "fake line" in text and "set the topic" in text
