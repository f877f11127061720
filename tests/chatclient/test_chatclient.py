"""`python -m chatclient` against real daphne workers and Redis, talking with a
WebSocket client in the same room, and surviving the loss of its worker."""

from __future__ import annotations

import asyncio
import re

import pytest

from bench.stack import free_port
from tests.live.conftest import log_problems

pytestmark = [pytest.mark.live, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

CLIENT_ID = re.compile(r"^[0-9a-f]{32}$")


def bodies(messages: list[dict]) -> list[str]:
    """The people's messages, without system notices (such as "alice joined")."""
    return [m["body"] for m in messages if m["kind"] != "system"]


async def test_the_terminal_client_chats_with_a_browser_socket_both_ways(
    live_stack, make_people, make_room, open_socket, start_client
):
    alice, bob = await make_people("alice", "bob")
    room = await make_room("bob", "General")
    server, _ = live_stack.urls
    browser = await open_socket(live_stack.ws_urls[1], bob)
    await browser.join(room)
    await browser.send({"type": "send", "room": room, "body": "before you came", "client_id": "b0"})
    await browser.wait_for(lambda: browser.seqs(room) == [1], what="bob's first message")

    listing = await start_client(server, alice.token, "--list")
    assert await listing.wait_exit() == 0
    assert any(re.search(rf"^\s*{room}\s+General\s+\(public\)$", line) for line in listing.out)

    terminal = await start_client(server, alice.token, "--room", "general")
    await terminal.wait_for_line(rf"^\* Joined General \(room {room}\); online: ")
    await terminal.wait_for_line(r"^\[\d\d:\d\d\] bob: before you came$")

    await terminal.type("hello from the terminal")
    sent = await browser.wait_for(
        lambda: next(
            (m for m in browser.messages(room) if m["body"] == "hello from the terminal"), None
        ),
        what="the terminal's message on the socket",
    )
    assert sent["author"] == "alice" and CLIENT_ID.match(sent["client_id"])
    await browser.send({"type": "send", "room": room, "body": "hello, terminal", "client_id": "b1"})
    await terminal.wait_for_line(r"^\[\d\d:\d\d\] bob: hello, terminal$")
    await terminal.type("/who")  # the server's commands work from the terminal too
    await terminal.wait_for_line(r"^\* Online: alice, bob$")
    await terminal.type("/quit")
    assert await terminal.wait_exit() == 0

    assert terminal.message_lines() == [
        "bob: before you came",
        "alice: hello from the terminal",
        "bob: hello, terminal",
    ]
    assert bodies(browser.messages(room)) == [
        "before you came",
        "hello from the terminal",
        "hello, terminal",
    ]
    assert log_problems(live_stack) == []


async def test_the_terminal_client_reconnects_and_prints_what_it_missed_once(
    live_stack, make_people, make_room, open_socket, start_client
):
    alice, bob = await make_people("alice", "bob")
    room = await make_room("bob", "General")
    browser = await open_socket(live_stack.ws_urls[1], bob)
    await browser.join(room)
    terminal = await start_client(live_stack.urls[0], alice.token, "--room", str(room))
    await terminal.wait_for_line(r"^\* Joined General")
    await browser.send({"type": "send", "room": room, "body": "first", "client_id": "b1"})
    await terminal.wait_for_line(r"bob: first$")

    live_stack.kill_worker(0)  # the terminal's worker dies; its socket just drops
    await terminal.wait_for_line(r"^\* Disconnected; reconnecting in ")
    for n in (1, 2, 3):
        body = f"missed {n}"
        await browser.send({"type": "send", "room": room, "body": body, "client_id": body})
    await terminal.type("typed while offline")
    await browser.wait_for(lambda: len(bodies(browser.messages(room))) == 4, what="bob's 4")
    await asyncio.to_thread(live_stack.restart_worker, 0)

    await terminal.wait_for_line(r"^\* Reconnected\.$", within=20)
    await browser.wait_for(
        lambda: any(m["body"] == "typed while offline" for m in browser.messages(room)),
        what="the line typed while offline",
    )
    await terminal.wait_for_line(r"alice: typed while offline$")
    terminal.end_input()  # end of input: exits once everything typed is confirmed
    assert await terminal.wait_exit() == 0
    expected = ["first", "missed 1", "missed 2", "missed 3", "typed while offline"]
    assert [line.split(": ", 1)[1] for line in terminal.message_lines()] == expected
    assert bodies(browser.messages(room)) == expected


async def test_a_refused_token_an_unknown_room_or_no_server_ends_the_client_clearly(
    live_stack, make_people, make_room, start_client
):
    (alice,) = await make_people("alice")
    await make_room("alice", "General")
    server = live_stack.urls[0]

    refused = await start_client(server, "cst_not-a-token", "--room", "general")
    assert await refused.wait_exit() == 2
    assert refused.err == ["! The server refused the token."]

    unknown = await start_client(server, alice.token, "--room", "999999")
    assert await unknown.wait_exit() == 1
    assert unknown.err == ["! No room '999999' among yours; --list shows them."]

    nowhere = await start_client(f"http://127.0.0.1:{free_port()}", alice.token, "--list")
    assert await nowhere.wait_exit() == 1
    assert re.match(r"^! Cannot reach http://127\.0\.0\.1:\d+: ", nowhere.err[0])
