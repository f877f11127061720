"""The TCP gateway as its own process, beside real daphne workers and real Redis.

Line clients and WebSocket clients in one room hear each other both ways; every
refusal is one clear line; a client that does not read, sends too much or vanishes
costs the server nothing but its own connection.
"""

from __future__ import annotations

import asyncio
import re
import socket

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.db import connections

from rooms import services as room_services
from tests.gateway.conftest import gateway_problems
from tests.live.conftest import log_problems

pytestmark = [pytest.mark.live, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

LINE = r"^\[\d\d:\d\d\] "  # the start of every message line


def texts(messages: list[dict]) -> list[dict]:
    """The people's messages, without system notices (such as "alice joined")."""
    return [m for m in messages if m["kind"] != "system"]


@sync_to_async(thread_sensitive=False)
def make_conference(creator: str, *others: str) -> int:
    try:
        user = get_user_model().objects.get(username=creator)
        room = room_services.room_create(
            creator=user, name="Secret", kind="conference", members=list(others)
        )
        return room.id
    finally:
        connections.close_all()


async def test_line_clients_and_websocket_clients_share_a_room_both_ways(
    live_stack, start_gateway, make_people, make_room, open_socket, open_line
):
    alice, bob, carol = await make_people("alice", "bob", "carol")
    room = await make_room("bob", "General")
    gateway = start_gateway()
    browser = await open_socket(live_stack.ws_urls[1], bob)
    await browser.join(room)
    await browser.send({"type": "send", "room": room, "body": "before you came", "client_id": "b0"})
    await browser.wait_for(lambda: browser.seqs(room) == [1], what="bob's first message")

    # alice names the room; carol, a program, numbers it and reads JSON.
    terminal = await open_line(gateway.port, {"token": alice.token, "room": "general"}, "alice")
    await terminal.wait_for_line(rf"^\* alice joined General \(room {room}\); online: .*alice")
    await terminal.wait_for_line(LINE + r"bob: before you came$")
    program = await open_line(
        gateway.port, {"token": carol.token, "room": room, "json": True}, "carol"
    )
    joined = await program.wait_for(
        lambda: next((f for f in program.frames() if f["type"] == "joined"), None), what="joined"
    )
    assert [m["body"] for m in texts(joined["messages"])] == ["before you came"]

    await terminal.send("hello from netcat")
    await browser.wait_for(
        lambda: any(m["body"] == "hello from netcat" for m in browser.messages(room)),
        what="alice's line on the socket",
    )
    await browser.send({"type": "send", "room": room, "body": "hello, terminal", "client_id": "b1"})
    await terminal.wait_for_line(LINE + r"bob: hello, terminal$")
    await program.send({"body": "from a program", "client_id": "p1"})
    await terminal.wait_for_line(LINE + r"carol: from a program$")
    await browser.wait_for(lambda: len(texts(browser.messages(room))) == 4, what="4 messages")
    await program.wait_for(lambda: len(texts(program.messages())) == 4, what="4 messages")
    await asyncio.sleep(0.5)  # a duplicate, if any, arrives by now

    by_socket = [(m["seq"], m["author"], m["body"]) for m in browser.messages(room)]
    by_program = [(m["seq"], m["author"], m["body"]) for m in program.messages()]
    assert by_program == [message for message in by_socket if message[0] >= by_program[0][0]]
    assert [seq for seq, _, _ in by_socket] == list(range(1, len(by_socket) + 1))
    lines = [line for line in terminal.lines if re.match(LINE + r"\w+: ", line)]
    assert [line.split("] ", 1)[1] for line in lines] == [
        f"{m['author']}: {m['body']}" for m in texts(browser.messages(room))
    ]
    # Line clients count as online for the browser, like any socket.
    assert any(
        f["type"] == "presence" and {"alice", "carol"} <= set(f["online"]) for f in browser.frames
    )
    assert gateway_problems(gateway) == []
    assert log_problems(live_stack) == []


async def test_json_mode_replays_after_a_seq_and_answers_a_repeated_client_id_once(
    start_gateway, make_people, make_room, open_line
):
    (alice,) = await make_people("alice")
    room = await make_room("alice")
    gateway = start_gateway()
    first = await open_line(gateway.port, {"token": alice.token, "room": room, "json": True})
    for n in range(1, 6):
        await first.send({"body": f"message {n}", "client_id": f"c{n}"})
    await first.wait_for(lambda: len(first.messages()) == 5, what="five echoes")
    await first.send({"body": "message 1 again", "client_id": "c1"})
    repeat = await first.wait_for(lambda: len(first.messages()) == 6, what="the repeat's answer")
    assert repeat
    assert first.messages()[-1]["seq"] == 1  # the original, not a new message
    await first.send("not json")
    await first.wait_for_line(r'"type":"error","code":"invalid"')

    # A program that reconnects with the last seq it saw gets exactly what it missed.
    second = await open_line(
        gateway.port, {"token": alice.token, "room": room, "json": True, "after": 2}
    )
    await second.wait_for(lambda: len(second.messages()) == 3, what="the three after seq 2")
    await first.send({"body": "message 6", "client_id": "c6"})
    await second.wait_for(lambda: len(second.messages()) == 4, what="the live one")
    await asyncio.sleep(0.3)
    assert [m["seq"] for m in second.messages()] == [3, 4, 5, 6]
    assert gateway_problems(gateway) == []


async def test_every_refusal_of_a_first_line_is_one_clear_line_then_the_door_closes(
    start_gateway, make_people, make_room, open_line
):
    alice, bob, carol, dave = await make_people("alice", "bob", "carol", "dave")
    await make_room("alice", "General")
    secret = await make_conference("bob", "carol", "dave")
    gateway = start_gateway()
    cases = [
        (b"hello\n", r"^! The first line must be JSON"),
        (b"[1, 2]\n", r"^! The first line must be JSON"),
        (b'{"room": "general"}\n', r'^! "token" is missing'),
        (b'{"token": "cst_nope", "room": "general"}\n', r"^! That token is not valid\.$"),
        (b"x" * 20_000 + b"\n", r"^! Line too long: the limit is 16384 bytes\.$"),
    ]
    for first, expected in cases:
        client = await open_line(gateway.port, first)
        await client.wait_closed()
        assert len(client.lines) == 1 and re.search(expected, client.lines[0]), client.lines

    # A room that does not exist and a private room of others get the same answer.
    answers = []
    for room in (999_999, secret, "no such room", "Secret"):
        client = await open_line(gateway.port, {"token": alice.token, "room": room})
        await client.wait_closed()
        answers.append(client.lines)
    assert answers == [["! Room not found."]] * 4
    # In JSON mode the refusal is an error frame.
    client = await open_line(gateway.port, {"token": "cst_nope", "room": 1, "json": True})
    await client.wait_closed()
    assert client.frames() == [
        {"type": "error", "code": "unauthorized", "detail": "That token is not valid."}
    ]
    # Members of the private room get in.
    member = await open_line(gateway.port, {"token": bob.token, "room": secret})
    await member.wait_for_line(r"^\* bob joined Secret")
    assert gateway_problems(gateway) == []


async def test_an_over_long_or_invalid_line_is_an_error_line_and_the_connection_stays(
    start_gateway, make_people, make_room, open_line
):
    (alice,) = await make_people("alice")
    room = await make_room("alice")
    gateway = start_gateway()
    client = await open_line(gateway.port, {"token": alice.token, "room": room})
    await client.wait_for_line(r"^\* alice joined")
    await client.send(b"y" * 100_000 + b"\n")
    await client.send(b"\xff\xfe not utf-8\n")
    await client.send("z" * 4001)
    await client.send("still here")
    await client.wait_for_line(LINE + "alice: still here$")
    assert client.lines[1:] == [
        "! Line too long: the limit is 16384 bytes.",
        "! Lines must be UTF-8 text.",
        "! body is 4001 characters; the limit is 4000.",
        client.lines[-1],
    ]
    assert not client.closed.is_set()
    assert gateway_problems(gateway) == []


def _slow_reader(port: int, first: bytes) -> socket.socket:
    """A client with a tiny receive window that sends its first line and never reads."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    sock.sendall(first)
    return sock


def _dropped(sock: socket.socket, within: float) -> bool:
    """Read everything; True if the server closed the connection (EOF or reset)."""
    sock.settimeout(within)
    try:
        while sock.recv(1 << 20):
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True


async def test_a_client_that_does_not_read_is_dropped_and_the_others_are_still_served(
    start_gateway, make_people, make_room, open_line
):
    alice, bob, carol = await make_people("alice", "bob", "carol")
    room = await make_room("alice")
    gateway = start_gateway("--queue-lines", "8")
    slow = await asyncio.to_thread(
        _slow_reader, gateway.port, f'{{"token": "{bob.token}", "room": {room}}}\n'.encode()
    )
    try:
        talker = await open_line(gateway.port, {"token": alice.token, "room": room})
        await talker.wait_for_line(r"^\* alice joined")
        body = "w" * 3900
        for n in range(120):  # ~470 KB for the slow client, far beyond its buffers
            await talker.send(f"{n:03d} {body}")
        await talker.wait_for(
            lambda: sum(bool(re.match(LINE + "alice: ", line)) for line in talker.lines) == 120,
            what="all 120 echoes",
            within=30,
        )
        assert await asyncio.to_thread(_dropped, slow, 10)
    finally:
        slow.close()
    assert re.search(r"\(bob\) in room \d+ disconnected: too slow", gateway.log())

    # The server goes on: a newcomer joins and talks.
    newcomer = await open_line(gateway.port, {"token": carol.token, "room": room, "history": 0})
    await newcomer.send("anyone there?")
    await talker.wait_for_line(LINE + "carol: anyone there\\?$")
    assert gateway_problems(gateway) == []


async def test_an_abrupt_disconnect_is_cleaned_up_and_half_a_line_is_not_posted(
    start_gateway, make_people, make_room, open_line
):
    alice, bob = await make_people("alice", "bob")
    room = await make_room("alice")
    gateway = start_gateway()
    watcher = await open_line(gateway.port, {"token": alice.token, "room": room, "json": True})
    await watcher.wait_for(lambda: watcher.frames(), what="joined")

    # Gone before the first line, and gone mid-conversation with half a line sent.
    (await open_line(gateway.port, b'{"token": "')).reset()
    leaver = await open_line(gateway.port, {"token": bob.token, "room": room})
    await leaver.wait_for_line(r"^\* bob joined")
    await watcher.wait_for(
        lambda: any(f["type"] == "presence" and "bob" in f["online"] for f in watcher.frames()),
        what="bob online",
    )
    leaver.writer.write(b"half a message without its newline")
    await leaver.writer.drain()
    leaver.reset()

    await watcher.wait_for(
        lambda: (
            watcher.frames()[-1]["type"] == "presence"
            and watcher.frames()[-1]["online"] == ["alice"]
        ),
        what="bob gone from presence",
    )
    await watcher.send({"body": "still serving", "client_id": "a1"})
    await watcher.wait_for(lambda: texts(watcher.messages()), what="alice's echo")
    await asyncio.sleep(0.3)
    assert [m["body"] for m in texts(watcher.messages())] == ["still serving"]
    assert re.search(r"\(bob\) in room \d+ disconnected", gateway.log())
    assert gateway_problems(gateway) == []
