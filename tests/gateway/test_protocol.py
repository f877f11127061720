"""The gateway's line protocol on its own, and the command's refusal to start alone."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from bench.stack import PROJECT_DIR
from rooms.realtime.gateway.protocol import (
    HISTORY_DEFAULT,
    TOO_LONG,
    FirstLineError,
    parse_first_line,
    read_lines,
    text_line,
)


async def lines_of(data: bytes, limit: int = 10) -> list:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return [line async for line in read_lines(reader, limit)]


async def test_lines_are_split_on_newlines_with_carriage_returns_dropped():
    assert await lines_of(b"one\r\ntwo\n\nlast") == [b"one", b"two", b"", b"last"]


async def test_an_over_long_line_is_reported_once_and_the_next_line_still_read():
    data = b"short\n" + b"x" * 25 + b"\nafter\n" + b"y" * 11 + b"\n" + b"z" * 10 + b"\n"
    assert await lines_of(data) == [b"short", TOO_LONG, b"after", TOO_LONG, b"z" * 10]


async def test_an_over_long_line_arriving_in_pieces_is_discarded_as_it_comes():
    reader = asyncio.StreamReader()
    lines = read_lines(reader, 10)
    for _ in range(5):
        reader.feed_data(b"x" * 8)
    assert await anext(lines) is TOO_LONG
    reader.feed_data(b"tail of it\nnext\n")
    reader.feed_eof()
    assert [line async for line in lines] == [b"next"]


def test_the_first_line_needs_a_token_and_a_room():
    for line in (b"hello", b"[1]", b'{"room": 1}', b'{"token": "", "room": 1}'):
        with pytest.raises(FirstLineError) as error:
            parse_first_line(line)
        assert "first line must be JSON" in error.value.detail
    for line in (b'{"token": "t", "room": true}', b'{"token": "t", "room": [1]}'):
        with pytest.raises(FirstLineError, match="room id or a public room name"):
            parse_first_line(line)
    with pytest.raises(FirstLineError, match='"after" must be'):
        parse_first_line(b'{"token": "t", "room": 1, "after": -1}')


def test_the_first_line_names_a_room_by_id_or_by_name_with_json_mode_optional():
    assert parse_first_line(b'{"token": "t", "room": 3}') == {
        "token": "t",
        "ticket": None,
        "name": None,
        "room": 3,
        "json": False,
        "after": None,
        "history": HISTORY_DEFAULT,
    }
    fields = parse_first_line(b'{"token": "t", "room": "General", "json": true, "history": 999}')
    assert (fields["room"], fields["json"], fields["history"]) == ("General", True, 200)


def test_the_first_line_may_give_a_guest_name_instead_of_a_credential():
    fields = parse_first_line(b'{"name": "Mina", "room": "dev"}')
    assert (fields["name"], fields["token"], fields["room"]) == ("Mina", None, "dev")
    for line in (
        b'{"name": "Mina", "token": "t", "room": 1}',
        b'{"name": "M", "ticket": "t", "room": 1}',
    ):
        with pytest.raises(FirstLineError, match='Give one of "token", "ticket" or "name"'):
            parse_first_line(line)
    for line in (
        b'{"name": "", "room": 1}',
        b'{"name": 7, "room": 1}',
        b'{"name": " ", "room": 1}',
    ):
        with pytest.raises(FirstLineError, match='"name" must be'):
            parse_first_line(line)


def test_a_message_reads_as_one_line():
    message = {
        "created_at": "2026-11-22T09:05:00+00:00",
        "author": "alice",
        "kind": "text",
        "body": "two\nlines",
        "deleted": False,
    }
    assert text_line(message) == "[09:05] alice: two \u21b5 lines"
    assert text_line({**message, "kind": "action", "body": "waves"}) == "[09:05] * alice waves"
    assert text_line({**message, "kind": "system", "author": None, "body": "bob left"}) == (
        "[09:05] * bob left"
    )


def _run_gateway_command(listen: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "chatgateway", "--listen", listen],
        cwd=PROJECT_DIR,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_command_refuses_to_start_without_redis_and_says_why():
    result = _run_gateway_command("127.0.0.1:0", {"DJANGO_SETTINGS_MODULE": "chatsite.settings"})
    assert result.returncode == 1
    assert "REDIS_URL is not set" in result.stderr
    assert "--allow-memory-layer" in result.stderr


def test_the_command_rejects_a_listen_address_without_a_port():
    result = _run_gateway_command("localhost", {"REDIS_URL": "redis://127.0.0.1:6379/15"})
    assert result.returncode == 1
    assert "--listen takes HOST:PORT" in result.stderr
