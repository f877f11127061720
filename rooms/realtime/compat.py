"""The old browser clients' WebSocket (docs/clients.md): the TCP gateway's protocol,
one text frame per line.

The older chat servers' browser clients open a socket, send a JSON join
(`{"name": "Mina", "room": "dev"}` as a guest, or `{"token"|"ticket", "room"}`), then
send each message as a plain text frame, or as `{"author": ..., "body": ...}`; they
expect plain text lines back, or those objects. That is the gateway's text mode with
frames for lines, so this consumer hands the socket to a GatewayClient (the same
handshake, stream, rules and cleanup) through a reader and a writer made of frames:
one code path for every line-based client.

The socket sends no cookies' worth of authority (a guest name, a token or a ticket in
its first frame), so no Origin check is needed: a page on another site gains nothing
by opening it that it could not do itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from channels.consumer import AsyncConsumer
from channels.exceptions import StopConsumer
from channels.layers import get_channel_layer

from rooms.realtime.gateway.client import GatewayClient
from rooms.realtime.gateway.protocol import LINE_MAX_BYTES
from rooms.realtime.gateway.server import FIRST_LINE_TIMEOUT, QUEUE_LINES
from rooms.realtime.gone import CLIENT_GONE

log = logging.getLogger(__name__)

# Frames read but not yet handled: past this the consumer stops taking frames until
# the client's lines are posted (each waits for its message to be stored), so a fast
# sender is slowed down through the server's receive queue, not buffered here.
READ_AHEAD_BYTES = 64 * 1024


@dataclass
class Limits:
    """What a GatewayClient needs of its server (rooms.realtime.gateway.client.Limits)."""

    layer: Any = field(default_factory=get_channel_layer)
    line_max_bytes: int = LINE_MAX_BYTES
    queue_lines: int = QUEUE_LINES
    first_line_timeout: float = FIRST_LINE_TIMEOUT


class _Transport:
    def __init__(self, writer: FrameWriter) -> None:
        self.writer = writer

    def is_closing(self) -> bool:
        return self.writer.closed

    def abort(self) -> None:
        self.writer.abort()


class FrameWriter:
    """A StreamWriter's face over a socket: each line written is one text frame."""

    def __init__(self, send, peer: Any) -> None:
        self._send = send
        self._peer = peer
        self._pending: list[bytes] = []
        self.closed = False
        self.transport = _Transport(self)
        self._closing: asyncio.Task | None = None

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._peer if name == "peername" else default

    def write(self, data: bytes) -> None:
        if not self.closed:
            self._pending.append(data)

    async def drain(self) -> None:
        pending, self._pending = self._pending, []
        for data in pending:
            for line in data.decode().split("\n"):
                if line and not self.closed:
                    try:
                        await self._send({"type": "websocket.send", "text": line})
                    except CLIENT_GONE as exc:  # what a TCP writer says in that case
                        self.closed = True
                        raise ConnectionResetError("the client closed") from exc

    def close(self) -> None:
        if not self.closed:
            self._closing = asyncio.ensure_future(self._close())

    async def _close(self, code: int = 1000) -> None:
        await self.drain()
        if not self.closed:
            self.closed = True
            await self._send({"type": "websocket.close", "code": code})

    def abort(self) -> None:
        """A client too slow to read: its unsent lines are dropped."""
        self._pending = []
        if not self.closed:
            self._closing = asyncio.ensure_future(self._close(code=1008))

    async def wait_closed(self) -> None:
        if self._closing is not None:
            await self._closing


class CompatConsumer(AsyncConsumer):
    """ws://host/ws/compat/ (and the paths in CHAT_COMPAT_PATHS): see the module doc.
    `?format=objects` answers in `{"author", "body"}` objects from the start; without
    it the socket answers in text until the client sends its first such object."""

    async def websocket_connect(self, message: dict[str, Any]) -> None:
        await self.send({"type": "websocket.accept"})
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        self.reader = asyncio.StreamReader()
        self.writer = FrameWriter(self.send, self.scope.get("client"))
        self.client = GatewayClient(Limits(), self.reader, self.writer)
        self.client.detect_objects = True
        self.client.objects_mode = query.get("format") == ["objects"]
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        try:
            await self.client.run()
        finally:
            await self.writer.wait_closed()

    async def websocket_receive(self, message: dict[str, Any]) -> None:
        if self.task.done():
            return
        text = message.get("text")
        # A binary frame: the line protocol is text. Fed as a line that is not UTF-8, it
        # is answered as the gateway answers one ("Lines must be UTF-8 text.").
        self.reader.feed_data(b"\xff\n" if text is None else text.encode() + b"\n")
        # Backpressure: wait while the client's earlier lines are still being handled.
        # (StreamReader has no "drained" event to await.)
        while len(self.reader._buffer) > READ_AHEAD_BYTES and not self.task.done():  # noqa: ASYNC110, SLF001
            await asyncio.sleep(0.01)

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        self.writer.closed = True
        self.reader.feed_eof()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(10):
                await asyncio.shield(self.task)
        if not self.task.done():
            self.task.cancel()
            with contextlib.suppress(BaseException):
                await self.task
        raise StopConsumer()
