"""A minimal HTTP/1.1 client on asyncio streams, for the long-poll scenario: one request
per connection (`Connection: close`), sent and answered in two steps so that a
thousand requests can be left waiting at once. No dependency beyond the standard
library."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit


class Request:
    def __init__(self, url: str, method: str, path: str, token: str | None, body: Any = None):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.method, self.path = method, path
        self.token = token
        self.payload = json.dumps(body).encode() if body is not None else b""
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def send(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        head = [
            f"{self.method} {self.path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            "Connection: close",
            f"Content-Length: {len(self.payload)}",
        ]
        if self.token:
            head.append(f"Authorization: Bearer {self.token}")
        if self.payload:
            head.append("Content-Type: application/json")
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + self.payload)
        await self.writer.drain()

    async def answer(self) -> tuple[int, Any]:
        """(status, decoded JSON body or the raw text); reads until the server closes."""
        assert self.reader is not None and self.writer is not None
        try:
            raw = await self.reader.read()
        finally:
            self.writer.close()
        head, _, body = raw.partition(b"\r\n\r\n")
        try:
            status = int(head.split(b" ", 2)[1])
        except (IndexError, ValueError):
            return 0, raw[:300].decode(errors="replace")
        if b"transfer-encoding: chunked" in head.lower():
            body = _unchunk(body)
        try:
            return status, json.loads(body or b"null")
        except ValueError:
            return status, body[:300].decode(errors="replace")


def _unchunk(body: bytes) -> bytes:
    out, rest = b"", body
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out, rest = out + rest[:size], rest[size + 2 :]
    return out


async def request(
    url: str, method: str, path: str, token: str | None, body: Any = None
) -> tuple[int, Any]:
    call = Request(url, method, path, token, body)
    await call.send()
    return await call.answer()
