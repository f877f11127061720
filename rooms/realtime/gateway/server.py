"""The gateway's listener: accepts connections and holds the limits they share."""

from __future__ import annotations

import asyncio
import socket

from channels.layers import get_channel_layer

from rooms.realtime.gateway.client import GatewayClient
from rooms.realtime.gateway.protocol import LINE_MAX_BYTES

QUEUE_LINES = 256
MAX_CLIENTS = 1000
# A connection that has not signed in yet is cheap to open and costs a slot: it gets
# a short deadline for its first line, and one address may hold only a few at once, so
# a flood from one place cannot fill the server for everyone else.
FIRST_LINE_TIMEOUT = 10.0
PENDING_PER_ADDRESS = 20
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
        pending_per_address: int = PENDING_PER_ADDRESS,
    ) -> None:
        self.line_max_bytes = line_max_bytes
        self.queue_lines = queue_lines
        self.max_clients = max_clients
        self.first_line_timeout = first_line_timeout
        self.pending_per_address = pending_per_address
        self.pending: dict[str, int] = {}  # address -> connections not signed in yet
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
        peer = writer.get_extra_info("peername")
        address = peer[0] if isinstance(peer, tuple) else str(peer)
        if self.pending.get(address, 0) >= self.pending_per_address:
            writer.write(b"! Too many connections from your address are still signing in.\n")
            writer.close()
            return
        self.pending[address] = self.pending.get(address, 0) + 1
        client = GatewayClient(self, reader, writer)
        client.on_signed_in = lambda: self._signed_in(address)
        self.clients.add(client)
        try:
            await client.run()
        except asyncio.CancelledError:
            pass  # stop() ended this connection; run() has closed it
        finally:
            self.clients.discard(client)
            if not client.signed_in:
                self._signed_in(address)  # it never did: its pending slot ends here

    def _signed_in(self, address: str) -> None:
        left = self.pending.get(address, 0) - 1
        if left > 0:
            self.pending[address] = left
        else:
            self.pending.pop(address, None)
