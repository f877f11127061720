"""Each old client in examples/, run as its own process exactly as a user runs it, chats
with a member on the chat socket (the browser's protocol) through real servers: a
daphne worker and the TCP gateway, one Redis layer, the test database. Guests are on
(CHAT_GUESTS) and the room is open to them."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time

import pytest
from django.db import connections

from bench.stack import PROJECT_DIR, Stack
from rooms.models import Room
from tests.live.conftest import database_url_for_workers, log_problems

pytestmark = [pytest.mark.django_db(transaction=True)]

EXAMPLES = PROJECT_DIR / "examples"
GUEST_ENV = {"CHAT_GUESTS": "1", "CHAT_COMPAT_PATHS": "chat"}


@pytest.fixture
def guest_stack(transactional_db, redis_url, channel_prefix, tmp_path):
    """One daphne worker and the TCP gateway, guests on, sharing Redis and the database."""
    stack = Stack(
        1,
        database_url=database_url_for_workers(),
        redis_url=redis_url,
        env={"CHANNEL_PREFIX": channel_prefix, **GUEST_ENV},
        log_dir=tmp_path / "logs",
    )
    with stack:
        log_path = tmp_path / "gateway.log"
        with open(log_path, "wb") as log:
            gateway = subprocess.Popen(
                [sys.executable, "manage.py", "chatgateway", "--listen", "127.0.0.1:0"],
                cwd=PROJECT_DIR,
                env=stack.environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            deadline = time.monotonic() + 30
            while not (
                found := re.search(r"listening on 127\.0\.0\.1:(\d+)", log_path.read_text())
            ):
                assert gateway.poll() is None and time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.05)
            stack.gateway_port = int(found.group(1))
            yield stack
        finally:
            gateway.terminate()
            gateway.wait(timeout=10)


@pytest.fixture
async def lobby(make_people, make_room):
    (alice,) = await make_people("alice")
    room_id = await make_room("alice", "Lobby")

    def open_it():
        try:
            Room.objects.filter(pk=room_id).update(open_to_guests=True)
        finally:
            connections.close_all()

    await asyncio.to_thread(open_it)
    return alice, room_id


class ClientProcess:
    """An example client as a process: lines typed on its stdin, lines read from its
    stdout (kept, so a test can wait for one)."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []

    async def type(self, line: str) -> None:
        self.process.stdin.write(line.encode() + b"\n")
        await self.process.stdin.drain()

    async def wait_for_line(self, pattern: str, within: float = 15) -> str:
        async with asyncio.timeout(within):
            while True:
                for line in self.lines:
                    if re.search(pattern, line):
                        return line
                raw = await self.process.stdout.readline()
                if not raw:
                    raise AssertionError(f"the client ended; it printed {self.lines}")
                self.lines.append(raw.decode().rstrip("\n"))

    async def finish(self) -> int:
        self.process.stdin.close()
        async with asyncio.timeout(15):
            await self.process.stdout.read()
            return await self.process.wait()


async def start(script: str, *args: str) -> ClientProcess:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLES / script),
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=None,
    )
    return ClientProcess(process)


async def chat_with_a_member(client: ClientProcess, member_socket, room_id: int, hello: str):
    """The client says `hello`, the member hears it from the guest "Mina"; the member
    answers and the client prints the answer."""
    await client.type(hello)

    def heard():
        return [m for m in member_socket.messages(room_id) if m["body"] == hello]

    [message] = await member_socket.wait_for(heard, what=f"the guest's {hello!r}")
    assert (message["author"], message["author_name"]) == ("~Mina", "Mina (guest)")
    await member_socket.send({"type": "send", "room": room_id, "body": f"hi Mina ({hello})"})


async def test_the_tcp_name_client(guest_stack, lobby, open_socket):
    alice, room_id = lobby
    member = await open_socket(guest_stack.ws_urls[0], alice)
    await member.join(room_id)
    client = await start(
        "tcp_name_client.py", "127.0.0.1", str(guest_stack.gateway_port), "Mina", "Lobby"
    )
    await client.wait_for_line(r"^\* ~Mina joined Lobby")
    await chat_with_a_member(client, member, room_id, "hello over tcp")
    await client.wait_for_line(r"^\[\d\d:\d\d\] alice: hi Mina \(hello over tcp\)$")
    assert await client.finish() == 0
    assert log_problems(guest_stack) == []


@pytest.mark.parametrize("path", ["/ws/compat/", "/chat"])
async def test_the_websocket_text_client(guest_stack, lobby, open_socket, path):
    alice, room_id = lobby
    member = await open_socket(guest_stack.ws_urls[0], alice)
    await member.join(room_id)
    url = guest_stack.urls[0].replace("http://", "ws://") + path
    client = await start("ws_text_client.py", url, "Mina", "lobby")
    await client.wait_for_line(r"^\* ~Mina joined Lobby")
    await chat_with_a_member(client, member, room_id, "hello over a text socket")
    await client.wait_for_line(r"alice: hi Mina \(hello over a text socket\)$")
    assert await client.finish() == 0
    assert log_problems(guest_stack) == []


async def test_the_websocket_object_client(guest_stack, lobby, open_socket):
    alice, room_id = lobby
    member = await open_socket(guest_stack.ws_urls[0], alice)
    await member.join(room_id)
    url = guest_stack.urls[0].replace("http://", "ws://") + "/ws/compat/?format=objects"
    client = await start("ws_object_client.py", url, "Mina", "lobby")
    await client.wait_for_line(r"^server: \* ~Mina joined Lobby")
    await chat_with_a_member(client, member, room_id, "hello as an object")
    # The member's display name, as the old clients showed their users.
    await client.wait_for_line(r"^alice: hi Mina \(hello as an object\)$")
    assert await client.finish() == 0
    assert log_problems(guest_stack) == []
