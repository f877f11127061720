"""Fixtures for the terminal client: `python -m chatclient` as a real subprocess with
stdin and stdout pipes, against the live daphne workers of tests/live."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys

import pytest

from bench.stack import PROJECT_DIR
from tests.live import conftest as live

# The live fixtures (workers, people, rooms, WebSockets), for this directory too.
channel_prefix = live.channel_prefix
live_stack = live.live_stack
stack_server = live.stack_server
make_people = live.make_people
make_room = live.make_room
open_socket = live.open_socket

MESSAGE_LINE = re.compile(r"^\[\d\d:\d\d\] ")
PROXY_VARIABLES = (
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
)


def client_env(token: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in PROXY_VARIABLES}
    env.update(CHAT_TOKEN=token, TZ="UTC", PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8")
    return env


class TerminalClient:
    """The client process. Reader tasks record stdout and stderr line by line, so a test
    can wait for a condition over everything printed so far."""

    def __init__(self, process: asyncio.subprocess.Process, label: str) -> None:
        self.process = process
        self.label = label
        self.out: list[str] = []
        self.err: list[str] = []
        self._changed = asyncio.Event()
        self._readers = [
            asyncio.create_task(self._read(process.stdout, self.out)),
            asyncio.create_task(self._read(process.stderr, self.err)),
        ]

    async def _read(self, stream: asyncio.StreamReader, into: list[str]) -> None:
        while line := await stream.readline():
            into.append(line.decode().rstrip("\n"))
            self._changed.set()
        self._changed.set()

    def message_lines(self) -> list[str]:
        """`author: body` of every message printed, in order; not system notices."""
        return [
            line.split("] ", 1)[1]
            for line in self.out
            if MESSAGE_LINE.match(line) and not line.split("] ", 1)[1].startswith("* ")
        ]

    async def type(self, line: str) -> None:
        self.process.stdin.write(line.encode() + b"\n")
        await self.process.stdin.drain()

    def end_input(self) -> None:
        self.process.stdin.close()

    async def wait_for_line(self, pattern: str, *, within: float = 15) -> str:
        regex = re.compile(pattern)
        try:
            async with asyncio.timeout(within):
                while True:
                    found = next((line for line in self.out if regex.search(line)), None)
                    if found is not None:
                        return found
                    if self.process.returncode is not None:
                        break
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            pass
        raise AssertionError(
            f"{self.label}: no line matching {pattern!r} within {within}s; "
            f"stdout: {self.out[-8:]}, stderr: {self.err[-5:]}"
        )

    async def wait_exit(self, within: float = 15) -> int:
        try:
            async with asyncio.timeout(within):
                code = await self.process.wait()
                await asyncio.gather(*self._readers)
                return code
        except TimeoutError:
            raise AssertionError(f"{self.label}: still running after {within}s") from None

    async def stop(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.terminate()
            try:
                async with asyncio.timeout(10):
                    await self.process.wait()
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        for reader in self._readers:
            reader.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)


@pytest.fixture
async def start_client():
    """await start_client(server, token, *arguments) -> TerminalClient; every client is
    stopped (and reaped) afterwards."""
    clients: list[TerminalClient] = []

    async def start(server: str, token: str, *arguments: str) -> TerminalClient:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "chatclient",
            "--server",
            server,
            *arguments,
            cwd=PROJECT_DIR,
            env=client_env(token),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        client = TerminalClient(process, f"chatclient {' '.join(arguments)}")
        clients.append(client)
        return client

    yield start
    await asyncio.gather(*(client.stop() for client in clients))
