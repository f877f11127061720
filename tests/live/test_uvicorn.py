"""The real project app under uvicorn instead of daphne: two uvicorn workers
(bench.stack, server="uvicorn") on one Redis layer, Bearer-token sockets on both,
a message across them, history over HTTP and on a rejoin."""

from __future__ import annotations

import asyncio
import json
import urllib.request

import pytest

from tests.live.conftest import log_problems

pytestmark = [pytest.mark.live, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

# Loopback only: proxies from the environment must not see these requests.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture
def stack_server() -> str:
    return "uvicorn"


def stored_once(socket, room: int, client_id: str) -> list[dict]:
    return [m for m in socket.messages(room) if m["client_id"] == client_id]


async def test_chat_round_trip_under_uvicorn(live_stack, make_people, make_room, open_socket):
    for worker in live_stack.workers:
        assert "uvicorn" in worker.process.args, worker.process.args
    alice, bob = await make_people("alice", "bob")
    room = await make_room("alice")
    url_a, url_b = live_stack.ws_urls
    sender = await open_socket(url_a, alice)
    listener = await open_socket(url_b, bob)
    for socket in (sender, listener):
        await socket.join(room)

    await sender.send({"type": "send", "room": room, "body": "under uvicorn", "client_id": "u1"})
    for socket in (sender, listener):
        await socket.wait_for(
            lambda s=socket: stored_once(s, room, "u1"), what="the message from worker A"
        )
    await asyncio.sleep(0.5)  # a duplicate would have arrived by now
    for socket in (sender, listener):
        [message] = stored_once(socket, room, "u1")
        assert (message["author"], message["body"]) == ("alice", "under uvicorn")
    seq = stored_once(listener, room, "u1")[0]["seq"]

    # --ws-max-size lets a frame over the protocol's 64 KiB reach the consumer, which
    # answers "invalid" and keeps the socket, as under daphne.
    await listener.send({"type": "send", "room": room, "body": "x" * 70_000})
    await listener.wait_for(
        lambda: [f for f in listener.frames if f["type"] == "error" and f["code"] == "invalid"],
        what="the invalid error for a 70 KB frame",
    )
    assert not listener.closed.is_set()

    def history() -> tuple[str | None, dict]:
        request = urllib.request.Request(
            f"{live_stack.urls[1]}/api/rooms/{room}/messages",
            headers={"Authorization": f"Bearer {bob.token}"},
        )
        with OPENER.open(request, timeout=10) as response:
            return response.headers.get("server"), json.loads(response.read())

    server, page = await asyncio.to_thread(history)
    assert server == "uvicorn"
    assert [(m["seq"], m["client_id"]) for m in page["messages"]] == [(seq, "u1")]
    assert page["has_more"] is False

    late = await open_socket(url_b, bob)
    joined = await late.join(room, after=0)
    assert [(m["seq"], m["body"]) for m in joined["messages"]] == [(seq, "under uvicorn")]
    assert log_problems(live_stack) == []
