"""One room over one WebSocket, kept up across network failures.

The ordering rule is the browser's: remember the last seq printed, drop what was
already printed, and rejoin with `after` = that seq after a reconnect (or on a gap), so
the server replays exactly what was missed. Lines typed while offline wait in
`pending` under their client_id and are sent again on every join until the server
echoes them: a repeat with the same client_id is stored once, so none is lost or doubled.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import sys
import uuid
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from chatclient import render
from chatclient.comings import Comings
from chatclient.terminal import terminal_safe

BACKOFF_FIRST = 0.5
BACKOFF_MAX = 10.0
OPEN_TIMEOUT = 10.0
# After the end of input, how long to wait for the server to confirm what was typed.
DRAIN_TIMEOUT = 10.0
# Close codes that mean "your credentials are no good": reconnecting would not help.
REFUSED = {4401: "The server refused the token.", 4403: "This account is deactivated."}
JOIN_REFUSALS = {"not_found", "banned", "forbidden"}


class Fatal(Exception):
    """Ends the client: `str(self)` is said on stderr and `exit_code` returned."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def websocket_url(server: str) -> str:
    """http://host:port → ws://host:port/ws/chat/ (https → wss)."""
    parts = urlsplit(server)
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme)
    if scheme is None or not parts.netloc:
        raise Fatal(f"--server must be an http:// or https:// URL, got {server!r}.")
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + "/ws/chat/", "", ""))


def say(text: str) -> None:
    """Print a line for the user. Server text is in it, so it goes through
    terminal_safe: no escape sequence, carriage return or bidi override gets out."""
    print(terminal_safe(text), flush=True)


class Session:
    def __init__(self, *, server: str, token: str, room: dict[str, Any]) -> None:
        self.url = websocket_url(server)
        self.token = token
        self.room_id: int = room["id"]
        self.room_name: str = room["name"]
        self.last_seq: int | None = None  # the newest seq printed
        self.pending: dict[str, str] = {}  # client_id -> body, not yet echoed back
        self.all_sent = asyncio.Event()
        self.all_sent.set()
        self.ws: ClientConnection | None = None  # the connection, once joined
        self.joined_before = False
        self.attempt = 0
        self.retries: set[asyncio.Task] = set()
        self.me: str | None = None  # my username, as the server says on joining
        self.comings: Comings | None = None  # "* bob came in" / "* bob left"
        self.announcing: asyncio.Task | None = None

    async def run(self, lines: asyncio.Queue[str | None]) -> int:
        """Chat until /quit or the end of input (0), or a fatal refusal (its code)."""
        connection = asyncio.create_task(self._stay_connected())
        typing = asyncio.create_task(self._read_input(lines))
        try:
            done, _ = await asyncio.wait({connection, typing}, return_when=asyncio.FIRST_COMPLETED)
            return done.pop().result()
        except Fatal as fatal:
            print(terminal_safe(f"! {fatal}"), file=sys.stderr, flush=True)
            return fatal.exit_code
        finally:
            tasks = [connection, typing, *self.retries]
            if self.announcing is not None:
                tasks.append(self.announcing)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    # --- the connection -----------------------------------------------------------------

    async def _stay_connected(self) -> int:
        while True:
            close_code = None
            try:
                async with connect(
                    self.url,
                    additional_headers={"Authorization": f"Bearer {self.token}"},
                    open_timeout=OPEN_TIMEOUT,
                    close_timeout=2,
                    max_size=2**22,
                ) as ws:
                    with contextlib.suppress(ConnectionClosed):
                        await self._converse(ws)
                    close_code = ws.close_code
            except InvalidStatus as error:
                say(f"! The server answered {error.response.status_code}.")
            except (OSError, TimeoutError, InvalidHandshake, ConnectionClosed):
                pass
            finally:
                self.ws = None
            if close_code in REFUSED:
                raise Fatal(REFUSED[close_code], exit_code=2)
            self.attempt += 1
            delay = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (self.attempt - 1))
            delay *= random.uniform(0.5, 1.0)
            say(f"* Disconnected; reconnecting in {delay:.1f} s.")
            await asyncio.sleep(delay)

    async def _converse(self, ws: ClientConnection) -> None:
        await self._join(ws)
        async for text in ws:
            try:
                frame = json.loads(text)
            except ValueError:
                continue
            if not isinstance(frame, dict):
                continue
            handler = self.HANDLERS.get(frame.get("type"))
            if handler is not None:
                await handler(self, ws, frame)

    async def _join(self, ws: ClientConnection) -> None:
        await ws.send(json.dumps({"type": "join", "room": self.room_id, "after": self.last_seq}))

    async def on_joined(self, ws: ClientConnection, frame: dict[str, Any]) -> None:
        if frame.get("room") != self.room_id:
            return
        online = [name for name in frame.get("online", []) if isinstance(name, str)]
        if isinstance(frame.get("user"), str):
            self.me = frame["user"]
        if self.comings is None:
            self.comings = Comings(online, me=self.me)
            self.announcing = asyncio.create_task(self.comings.announce(say))
        else:
            self.comings.update(online)  # who came and went while we were away
        if not self.joined_before:
            say(f"* Joined {self.room_name} (room {self.room_id}); online: {', '.join(online)}")
        elif self.ws is None:
            say("* Reconnected.")
        self.joined_before = True
        self.attempt = 0
        for message in frame.get("messages", []):
            self._show(message)
        if self.ws is None:
            self.ws = ws
            # Everything typed while offline (or not yet echoed) goes out again, with its
            # original client_id: the server stores each once.
            for client_id, body in list(self.pending.items()):
                await self._send(client_id, body)

    async def on_message(self, ws: ClientConnection, frame: dict[str, Any]) -> None:
        message = frame["message"]
        if message["room"] != self.room_id:
            return
        if self.last_seq is not None and message["seq"] > self.last_seq + 1:
            # A gap: rejoin from what was printed; the replay brings this message too.
            await self._join(ws)
            return
        self._show(message)

    def _show(self, message: dict[str, Any]) -> None:
        if self.last_seq is None or message["seq"] > self.last_seq:
            say(render.message_line(message))
            self.last_seq = message["seq"]
        self._confirmed(message.get("client_id"))

    def _confirmed(self, client_id: str | None) -> None:
        if (
            client_id is not None
            and self.pending.pop(client_id, None) is not None
            and not self.pending
        ):
            self.all_sent.set()

    async def on_error(self, ws: ClientConnection, frame: dict[str, Any]) -> None:
        detail = frame.get("detail") or frame.get("code", "error")
        ref = frame.get("ref")
        if self.ws is None and ref is None:
            # The join failed: for good (no such room, banned), or for now (the server
            # lost its database): then reconnect, with the usual backoff.
            if frame.get("code") in JOIN_REFUSALS:
                raise Fatal(f"Cannot join room {self.room_id}: {detail}")
            say(f"! {detail}")
            await ws.close()
            return
        if ref not in self.pending:
            say(f"! {detail}")
        elif frame.get("code") in ("rate_limited", "unavailable"):
            wait = frame.get("retry_after") or 2
            say(f"! {detail} Retrying in {wait} s.")
            self._retry_later(ref, wait)
        else:
            say(f"! Not sent: {detail}")
            self._confirmed(ref)

    def _retry_later(self, client_id: str, wait: float) -> None:
        async def retry() -> None:
            await asyncio.sleep(wait)
            if client_id in self.pending:
                await self._send(client_id, self.pending[client_id])

        task = asyncio.create_task(retry())
        self.retries.add(task)
        task.add_done_callback(self.retries.discard)

    async def on_notice(self, ws: ClientConnection, frame: dict[str, Any]) -> None:
        if frame.get("room") == self.room_id:
            for line in str(frame.get("text", "")).splitlines():
                say(f"* {line}")

    async def on_presence(self, ws: ClientConnection, frame: dict[str, Any]) -> None:
        online = frame.get("online")
        if frame.get("room") == self.room_id and self.comings and isinstance(online, list):
            self.comings.update(online)

    async def on_whisper(self, ws: ClientConnection, frame: dict[str, Any]) -> None:
        if frame.get("room") != self.room_id:
            return
        try:
            say(render.whisper_line(frame, self.me))
        except (KeyError, TypeError, ValueError):
            return  # not a whisper this client can read

    async def on_removed(self, ws: ClientConnection, frame: dict[str, Any]) -> None:
        if frame.get("room") == self.room_id:
            raise Fatal("You are no longer a member of this room.")

    HANDLERS = {
        "joined": on_joined,
        "message": on_message,
        "error": on_error,
        "notice": on_notice,
        "presence": on_presence,
        "whisper": on_whisper,
        "removed": on_removed,
    }

    async def _send(self, client_id: str, body: str) -> None:
        if self.ws is None:
            return  # sent on the next join
        frame = {"type": "send", "room": self.room_id, "body": body, "client_id": client_id}
        with contextlib.suppress(ConnectionClosed):
            await self.ws.send(json.dumps(frame))

    # --- what the user types ------------------------------------------------------------

    async def _read_input(self, lines: asyncio.Queue[str | None]) -> int:
        while (line := await lines.get()) is not None:
            text = line.rstrip("\r\n")
            if not text.strip():
                continue
            if text.strip() == "/quit":
                return 0
            client_id = uuid.uuid4().hex
            if text.lstrip().startswith("/") and not text.lstrip().startswith("//"):
                # A command is the server's to answer, maybe with nothing to confirm it,
                # and not safe to repeat (/invite): sent once, now, or not at all.
                if self.ws is None:
                    say("! Not connected; the command was not sent.")
                await self._send(client_id, text)
                continue
            self.pending[client_id] = text
            self.all_sent.clear()
            await self._send(client_id, text)
        try:
            async with asyncio.timeout(DRAIN_TIMEOUT):
                await self.all_sent.wait()
        except TimeoutError:
            count = len(self.pending)
            raise Fatal(f"{count} message(s) not confirmed by the server; not sent.") from None
        return 0
