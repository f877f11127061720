"""The gateway's listener: accepts connections and holds the limits they share."""

from __future__ import annotations

import asyncio
import socket

from channels.layers import get_channel_layer

from rooms.realtime.gateway.client import GatewayClient
from rooms.realtime.gateway.protocol import LINE_MAX_BYTES

QUEUE_LINES = 256
MAX_CLIENTS = 1000
FIRST_LINE_TIMEOUT = 30.0
SEND_BUFFER_BYTES = 64 * 1024


class Gateway:
    """The asyncio TCP server: `await start(host, port)`, later `await stop()`."""

    def __init__(
        self,
        *,
        line_max_bytes: int = LINE_MAX_BYTES,
        queue_lines: int = QUEUE_LINES,
        max_clients: int = MAX_CLIENTS,
        first_line_timeout: float = FIRST_LINE_TIMEOUT,
    ) -> None:
        self.line_max_bytes = line_max_bytes
        self.queue_lines = queue_lines
        self.max_clients = max_clients
        self.first_line_timeout = first_line_timeout
        self.layer = get_channel_layer()
        self.server: asyncio.Server | None = None
        self.clients: set[GatewayClient] = set()

    async def start(self, host: str, port: int) -> tuple[str, int]:
        """Listen; returns the address bound (port 0 picks a free port)."""
        self.server = await asyncio.start_server(self._accept, host, port)
        return self.server.sockets[0].getsockname()[:2]

    async def stop(self) -> None:
        """Stop listening, say goodbye to every client and wait (boundedly) for them."""
        if self.server is not None:
            self.server.close()
        tasks = [client.task for client in self.clients if client.task is not None]
        for client in list(self.clients):
            client.shutdown()
        if tasks:
            await asyncio.wait(tasks, timeout=10)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            # Notice peers that vanished without a word (a dead laptop, a pulled cable).
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            # A fixed kernel send buffer: a client that stops reading then costs the
            # server at most this plus its line queue, not megabytes of autotuned buffer.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
        if len(self.clients) >= self.max_clients:
            writer.write(b"! The server is full; try again later.\n")
            writer.close()
            return
        client = GatewayClient(self, reader, writer)
        self.clients.add(client)
        try:
            await client.run()
        except asyncio.CancelledError:
            pass  # stop() ended this connection; run() has closed it
        finally:
            self.clients.discard(client)
