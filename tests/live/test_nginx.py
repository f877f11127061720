"""The compose topology without Docker: nginx in front of two daphne workers on one
Redis layer. HTTP and WebSocket upgrades go through nginx, balanced over both."""

from __future__ import annotations

import asyncio
import json
import urllib.request

import pytest

from bench.stack import Stack, nginx_binary
from tests.conftest import need
from tests.live.conftest import database_url_for_workers, log_problems

pytestmark = [pytest.mark.live, pytest.mark.redis]


@pytest.fixture
def nginx_stack(transactional_db, redis_url, channel_prefix, tmp_path):
    if nginx_binary() is None:
        need("Debian's nginx is not installed (apt-get install nginx)")
    stack = Stack(
        2,
        database_url=database_url_for_workers(),
        redis_url=redis_url,
        env={"CHANNEL_PREFIX": channel_prefix},
        log_dir=tmp_path / "logs",
        nginx=True,
    )
    with stack:
        yield stack


async def test_http_and_sockets_through_nginx_reach_every_worker(
    nginx_stack, make_people, make_room, open_socket
):
    alice, bob = await make_people("alice", "bob")
    room_id = await make_room("alice")

    def health() -> dict:
        with urllib.request.urlopen(nginx_stack.front_url + "/healthz", timeout=5) as response:
            return json.loads(response.read())

    assert (await asyncio.to_thread(health))["redis"] == "ok"

    # Round robin: of four sockets through nginx, two land on each worker; they all
    # share the room through Redis.
    sockets = [await open_socket(nginx_stack.front_ws_url, p) for p in [alice, bob, alice, bob]]
    for socket in sockets:
        await socket.join(room_id)
    await sockets[0].send(
        {"type": "send", "room": room_id, "body": "through nginx", "client_id": "n1"}
    )
    for socket in sockets:
        await socket.wait_for(
            lambda s=socket: [
                f
                for f in s.frames
                if f.get("type") == "message" and f["message"]["body"] == "through nginx"
            ],
            what="the message through nginx",
        )
    # Both workers served sockets: each logged an open.
    opened = [path.read_text().count("socket id=") for path in nginx_stack.log_paths]
    assert all(count > 0 for count in opened), opened
    assert log_problems(nginx_stack) == []
