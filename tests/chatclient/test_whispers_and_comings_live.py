"""`python -m chatclient` prints whispers to and from its user, and who came in and
left the room (coalesced), against real daphne workers and Redis."""

from __future__ import annotations

import asyncio

import pytest

pytestmark = [pytest.mark.live, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


async def test_the_terminal_client_prints_whispers_and_comings(
    live_stack, make_people, make_room, open_socket, start_client
):
    alice, bob, carol = await make_people("alice", "bob", "carol")
    room = await make_room("alice", "General")
    server, _ = live_stack.urls
    terminal = await start_client(server, alice.token, "--room", "general")
    await terminal.wait_for_line(rf"^\* Joined General \(room {room}\); online: alice$")

    browser = await open_socket(live_stack.ws_urls[1], bob)
    await browser.join(room)
    await terminal.wait_for_line(r"^\* bob came in$")

    await browser.send({"type": "send", "room": room, "body": "/w alice psst", "client_id": "w"})
    await terminal.wait_for_line(r"^\[\d\d:\d\d\] \*bob whispers to you\*: psst$")
    await terminal.type("/msg bob what?")
    await terminal.wait_for_line(r"^\[\d\d:\d\d\] \*you whisper to bob\*: what\?$")
    await browser.wait_for(
        lambda: any(f["type"] == "whisper" and f["text"] == "what?" for f in browser.frames),
        what="alice's whisper on bob's socket",
    )

    # carol comes and goes within the window: no line about her.
    flapper = await open_socket(live_stack.ws_urls[0], carol)
    await flapper.join(room)
    await asyncio.sleep(0.5)
    await flapper.close()
    await browser.close()
    await terminal.wait_for_line(r"^\* bob left$")
    await asyncio.sleep(1)
    assert not [line for line in terminal.out if "carol" in line]
    assert [line for line in terminal.out if line.startswith("* bob ")] == [
        "* bob came in",
        "* bob left",
    ]
    await terminal.type("/quit")
    assert await terminal.wait_exit() == 0
