"""Fixtures for the TCP gateway: the gateway as a process of its own, and line clients.

The live fixtures (daphne workers, people, rooms, WebSockets) come from tests/live, so
the gateway shares the test database, Redis and channel prefix with the workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
import socket
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bench.stack import PROJECT_DIR, Stack
from tests.live import conftest as live
from tests.live.recording import Recording

# The live fixtures (workers, people, rooms, WebSockets), for this directory too.
channel_prefix = live.channel_prefix
live_stack = live.live_stack
stack_server = live.stack_server
make_people = live.make_people
make_room = live.make_room
open_socket = live.open_socket

LISTENING = re.compile(r"listening on 127\.0\.0\.1:(\d+)")
START_TIMEOUT = 30
LIVE_ENV = {"CHAT_SEND_BURST": "100000"}  # these tests measure delivery, not the limit


def server_env(redis_url: str, channel_prefix: str) -> dict[str, str]:
    """The environment of the stack's workers: same database, Redis and prefix."""
    stack = Stack(
        1,
        database_url=live.database_url_for_workers(),
        redis_url=redis_url,
        env={"CHANNEL_PREFIX": channel_prefix, **LIVE_ENV},
    )
    return stack.environment()


@dataclass
class GatewayProcess:
    process: subprocess.Popen
    log_path: Path
    port: int = 0

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        """SIGTERM, then SIGKILL after 10 s; always reaped. Returns the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return self.process.returncode


@pytest.fixture
def start_gateway(transactional_db, redis_url, channel_prefix, tmp_path):
    """start_gateway(*options) -> GatewayProcess listening on a free loopback port, with
    the workers' environment; stopped (and reaped) after the test."""
    started: list[GatewayProcess] = []

    def start(*options: str) -> GatewayProcess:
        log_path = tmp_path / f"gateway-{len(started)}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "manage.py", "chatgateway", "--listen", "127.0.0.1:0", *options],
                cwd=PROJECT_DIR,
                env=server_env(redis_url, channel_prefix),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        gateway = GatewayProcess(process, log_path)
        started.append(gateway)
        deadline = time.monotonic() + START_TIMEOUT
        while not (match := LISTENING.search(gateway.log())):
            if process.poll() is not None or time.monotonic() > deadline:
                gateway.stop()
                pytest.fail(f"the gateway did not start:\n{gateway.log()}")
            time.sleep(0.05)
        gateway.port = int(match.group(1))
        return gateway

    yield start
    for gateway in started:
        gateway.stop()


def gateway_problems(gateway: GatewayProcess) -> list[str]:
    return [
        line
        for line in gateway.log().splitlines()
        if re.search(r"Traceback|\b(ERROR|CRITICAL)\b|Task exception", line)
    ]


class LineClient(Recording):
    """A TCP line client. A reader task records every line, so a test can wait for a
    condition over everything received so far."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, label: str):
        self.reader = reader
        self.writer = writer
        self.label = label
        self.lines: list[str] = []
        self.closed = asyncio.Event()
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            while line := await self.reader.readline():
                self.lines.append(line.decode().removesuffix("\n"))
                self._changed.set()
        except (ConnectionError, ValueError):
            pass
        finally:
            self.closed.set()
            self._changed.set()

    def frames(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines if line.startswith("{")]

    def messages(self) -> list[dict[str, Any]]:
        """JSON mode: every message given, replayed or live, in order."""
        seen = []
        for frame in self.frames():
            if frame["type"] == "joined":
                seen.extend(frame["messages"])
            elif frame["type"] == "message":
                seen.append(frame["message"])
        return seen

    async def send(self, line: str | bytes | dict) -> None:
        if isinstance(line, dict):
            line = json.dumps(line)
        if isinstance(line, str):
            line = line.encode()
        self.writer.write(line if line.endswith(b"\n") else line + b"\n")
        await self.writer.drain()

    def recent(self) -> list:
        return self.lines[-5:]

    async def wait_for_line(self, pattern: str, *, within: float = 15) -> str:
        regex = re.compile(pattern)
        return await self.wait_for(
            lambda: next((line for line in self.lines if regex.search(line)), None),
            what=f"a line matching {pattern!r}",
            within=within,
        )

    async def wait_closed(self, within: float = 10) -> None:
        try:
            async with asyncio.timeout(within):
                await self.closed.wait()
        except TimeoutError:
            raise AssertionError(f"{self.label}: still open after {within}s") from None

    def reset(self) -> None:
        """Vanish abruptly: close with an RST, as a crashed client or a dropped network."""
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()

    async def close(self) -> None:
        self.writer.transport.abort() if self.closed.is_set() else self.writer.close()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(5):
                await self.writer.wait_closed()
        self._task.cancel()
        with contextlib.suppress(BaseException):
            await self._task


@pytest.fixture
async def open_line():
    """await open_line(port, first_line, label) -> LineClient; all closed afterwards."""
    clients: list[LineClient] = []

    async def open_(port: int, first: dict | bytes | None, label: str = "tcp") -> LineClient:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port, limit=2**20), timeout=10
        )
        client = LineClient(reader, writer, label)
        clients.append(client)
        if first is not None:
            await client.send(first)
        return client

    yield open_
    await asyncio.gather(*(client.close() for client in clients))
