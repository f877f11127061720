"""Fixtures for tests against real daphne processes sharing one Redis channel layer.

The test writes its users, tokens and rooms with `django_db(transaction=True)`, so
they are committed to the run's test database, which the workers open through
DATABASE_URL. Each test gets its own Redis key prefix (CHANNEL_PREFIX), deleted
afterwards, so parallel runs on one Redis never see each other's events.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import redis
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.db import connection, connections, transaction
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from accounts import services as account_services
from bench.redis_server import RedisServer
from bench.stack import Stack
from rooms import services as room_services
from tests.conftest import need
from tests.live.recording import Recording

WORKERS = 2


def database_url_for_workers() -> str:
    """The URL of the database this test is using (the test database, not the dev one)."""
    settings_dict = connection.settings_dict
    engine = settings_dict["ENGINE"]
    if engine == "django.db.backends.sqlite3":
        name = str(settings_dict["NAME"])
        if name == ":memory:" or name.startswith("file:"):
            pytest.skip("live tests need a file database the workers can open")
        return f"sqlite:///{name}"
    if engine == "django.db.backends.postgresql":
        user = quote(settings_dict.get("USER") or "", safe="")
        password = quote(settings_dict.get("PASSWORD") or "", safe="")
        credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
        host = settings_dict.get("HOST") or "127.0.0.1"
        port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
        return f"postgres://{credentials}{host}{port}/{quote(settings_dict['NAME'], safe='')}"
    pytest.skip(f"live tests do not know how to share a {engine} database")


@pytest.fixture
def channel_prefix(redis_url):
    prefix = f"chatlive{uuid.uuid4().hex[:12]}"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.unlink(*keys)
    finally:
        client.close()


def _own_redis(directory: Path):
    binary = shutil.which("redis-server")
    if binary is None:
        need("redis-server is not installed")
    directory.mkdir()
    return RedisServer(binary, directory)


@pytest.fixture
def own_redis(tmp_path):
    """A redis-server of this test's own (one the test may stop), on a free port."""
    server = _own_redis(tmp_path / "redis")
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def two_redis(tmp_path):
    """Two redis-servers of this test's own: REDIS_URL="url,url" shards over them."""
    servers = [_own_redis(tmp_path / f"redis-{n}") for n in range(2)]
    try:
        for server in servers:
            server.start()
        yield servers
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def stack_server() -> str:
    """The server live_stack runs: daphne, unless a test module overrides this fixture
    (tests/live/test_uvicorn.py). Not `live_server`: pytest-django has one."""
    return "daphne"


@pytest.fixture
def live_stack(transactional_db, redis_url, channel_prefix, tmp_path, stack_server):
    """Two workers (daphne, or what stack_server names) on the test database and one
    Redis layer. Stopped (and reaped) before the database is flushed, whatever the
    test did."""
    stack = Stack(
        WORKERS,
        server=stack_server,
        database_url=database_url_for_workers(),
        redis_url=redis_url,
        env={
            "CHANNEL_PREFIX": channel_prefix,
            # These tests measure delivery, not the per-user posting limit.
            "CHAT_SEND_BURST": "100000",
        },
        log_dir=tmp_path / "logs",
    )
    with stack:
        yield stack


def log_problems(stack: Stack) -> list[str]:
    """Lines in the workers' logs that mean a request or a socket failed."""
    pattern = re.compile(r"Traceback|\b(ERROR|CRITICAL)\b|WSREJECT| 500 ")
    return [
        f"{path.name}: {line}"
        for path in stack.log_paths
        for line in Path(path).read_text(errors="replace").splitlines()
        if pattern.search(line)
    ]


@dataclass
class Person:
    username: str
    token: str


def _in_a_thread(function):
    """Run ORM setup from an async test; the thread's connection is closed afterwards
    (an open one would keep PostgreSQL from dropping the test database)."""

    def run(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        finally:
            connections.close_all()

    return sync_to_async(run, thread_sensitive=False)


@pytest.fixture
def make_people(transactional_db):
    """await make_people("alice", "bob") -> committed users, each with a fresh API token."""

    @_in_a_thread
    def make(*usernames: str) -> list[Person]:
        people = []
        with transaction.atomic():
            for username in usernames:
                user = get_user_model().objects.create_user(
                    username=username, password="correct-horse-42"
                )
                people.append(
                    Person(username, account_services.token_create(user=user, name="live")[1])
                )
        return people

    return make


@pytest.fixture
def make_room(transactional_db):
    """await make_room("alice") -> the id of a new public room that alice owns."""

    @_in_a_thread
    def make(creator_username: str, name: str = "Live") -> int:
        creator = get_user_model().objects.get(username=creator_username)
        return room_services.room_create(creator=creator, name=name).id

    return make


class LiveSocket(Recording):
    """A real WebSocket client. A reader task records every frame, so a test can wait
    for a condition over everything received so far."""

    def __init__(self, connection, label: str) -> None:
        self.connection = connection
        self.label = label
        self.frames: list[dict[str, Any]] = []
        self.closed = asyncio.Event()
        self._changed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for text in self.connection:
                self.frames.append(json.loads(text))
                self._changed.set()
        except ConnectionClosed:
            pass
        finally:
            self.closed.set()
            self._changed.set()

    @property
    def close_code(self) -> int | None:
        return self.connection.close_code if self.closed.is_set() else None

    async def send(self, frame: dict[str, Any]) -> None:
        await self.connection.send(json.dumps(frame))

    def recent(self) -> list:
        return self.frames[-3:]

    def closed_detail(self) -> str:
        return f" ({self.close_code})"

    async def join(self, room: int, after: int | None = None, within: float = 15) -> dict:
        start = len(self.frames)
        await self.send({"type": "join", "room": room, "after": after})

        def answer():
            for frame in self.frames[start:]:
                if frame["type"] == "error":
                    raise AssertionError(f"{self.label}: join answered {frame}")
                if frame["type"] == "joined" and frame["room"] == room:
                    return frame
            return None

        return await self.wait_for(answer, what=f"joined for room {room}", within=within)

    def messages(self, room: int) -> list[dict[str, Any]]:
        """Every message this socket was given for the room, replayed or live, in order."""
        seen: list[dict[str, Any]] = []
        for frame in self.frames:
            if frame["type"] == "joined" and frame["room"] == room:
                seen.extend(frame["messages"])
            elif frame["type"] == "message" and frame["message"]["room"] == room:
                seen.append(frame["message"])
        return seen

    def seqs(self, room: int) -> list[int]:
        return [message["seq"] for message in self.messages(room)]

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(5):
                await self.connection.close()
        self._reader.cancel()
        with contextlib.suppress(BaseException):
            await self._reader


@pytest.fixture
async def open_socket():
    """await open_socket(url, person) -> LiveSocket; every socket is closed afterwards."""
    sockets: list[LiveSocket] = []

    async def open_(url: str, person: Person, *, open_timeout: float = 20) -> LiveSocket:
        ws = await connect(
            url,
            additional_headers={"Authorization": f"Bearer {person.token}"},
            open_timeout=open_timeout,
            close_timeout=2,
            proxy=None,
            max_size=2**22,
        )
        socket = LiveSocket(ws, f"{person.username}@{url}")
        sockets.append(socket)
        return socket

    yield open_
    await asyncio.gather(*(socket.close() for socket in sockets))
