"""One TCP connection of the gateway: a user in a room, from first line to goodbye."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any, Protocol

from django.conf import settings
from django.db import DatabaseError, InterfaceError

from accounts import services as account_services
from accounts.models import User
from chatclient.comings import Comings
from chatclient.terminal import terminal_safe
from chatsite.channel_layer import group_add_many
from rooms import access, guests, input_checks, selectors, services, wire
from rooms.errors import ChatError, InvalidInput, RateLimitedError
from rooms.file_text import with_files
from rooms.models import Room
from rooms.realtime import commands, events, heartbeats, presence
from rooms.realtime.db_gate import in_thread
from rooms.realtime.gateway.protocol import (
    TOO_LONG,
    FirstLineError,
    LineTooLong,
    parse_first_line,
    read_lines,
    text_line,
    whisper_line,
)
from rooms.realtime.stream import RoomFollow, message_of


class Limits(Protocol):
    """What a connection needs of its gateway (rooms.realtime.gateway.server.Gateway)."""

    layer: Any
    line_max_bytes: int
    queue_lines: int
    first_line_timeout: float


log = logging.getLogger("rooms.realtime.gateway")

# How long a replay (history, everything after `after`, a gap) waits for the client to
# make room in its queue; live lines never wait: a full queue drops the client at once.
REPLAY_WAIT = 30.0
UNAUTHORIZED = "That token is not valid."
TICKET_UNAUTHORIZED = "That ticket is not valid (each is used once and lasts seconds)."


@in_thread
def _authenticate(token: str) -> User | None:
    return account_services.token_authenticate(secret=token)


@in_thread
def _redeem(ticket: str) -> User | None:
    """A ticket is used up here, as by the socket; the user carries `chat_credential`
    (what made the ticket), so the connection dies with it."""
    return account_services.ticket_redeem(secret=ticket)


@in_thread
def _guest_room(room: int | str) -> int:
    return guests.resolve_room(room=room)


@in_thread
def _guest_enter(name: str, room_id: int, online: list[str]) -> User:
    return guests.enter(name=name, room_id=room_id, online=online)


@in_thread
def _seen(user_id: int) -> None:
    account_services.user_seen(user_id=user_id)


@in_thread
def _resolve_room(room: int | str) -> int:
    if isinstance(room, int):
        return room
    return selectors.public_room_id_by_name(name=room)


@in_thread
def _room_visible(user: User, room_id: int) -> Room:
    return access.room_get_visible(user=user, room_id=room_id)


@in_thread
def _post(
    user: User, room_id: int, body: Any, client_id: Any, reply_to: Any
) -> tuple[dict[str, Any], bool]:
    room = access.room_get_visible(user=user, room_id=room_id)
    message, created = services.message_post(
        room=room, author=user, body=body, client_id=client_id, reply_to=reply_to
    )
    return wire.message_dict(message), created


SERVER_AUTHOR = "server"


def object_line(message: dict[str, Any]) -> str:
    """A message as the old browser clients' object: `{"author": shown name, "body":
    text}` (an action as "* name text", a system line from SERVER_AUTHOR). ASCII JSON:
    no character of it can act on anything."""
    body = "(message removed)" if message["deleted"] else with_files(message["body"], message)
    author = message["author_name"] or SERVER_AUTHOR
    if message["kind"] == "system" or message["author"] is None:
        author = SERVER_AUTHOR
    elif message["kind"] == "action":
        body = f"* {author} {body}"
    return json.dumps({"author": author, "body": body})


class ClientGone(Exception):
    """The client is being disconnected; `reason` is logged."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class GatewayClient:
    """One TCP connection: a user in a room."""

    def __init__(
        self, gateway: Limits, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.gateway = gateway
        self.reader = reader
        self.writer = writer
        self.peer = writer.get_extra_info("peername")
        # Encoded lines for the writer task; None tells it to stop.
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=gateway.queue_lines)
        self.json_mode = False
        # The old browser clients' `{"author", "body"}` objects (rooms.realtime.compat):
        # set from the start, or on the first such object when `detect_objects` is.
        self.objects_mode = False
        self.detect_objects = False
        self.user: User | None = None
        self.room: Room | None = None
        self.channel: str | None = None
        self.on_site = False  # registered as online on the site (presence.SITE)
        self.groups: list[str] = []
        self.follow: RoomFollow | None = None
        self.signed_in = False  # past the first line: no longer counts as pending
        self.on_signed_in = lambda: None
        self.task: asyncio.Task | None = None
        # Text mode: "* bob came in" / "* bob left" from the room's online lists.
        self.comings: Comings | None = None
        self.presence_at = 0.0  # when the newest online list shown was read

    # --- life cycle ------------------------------------------------------------------

    async def run(self) -> None:
        self.task = asyncio.current_task()
        writing = asyncio.create_task(self._write_lines())
        workers: list[asyncio.Task] = []
        reason = "closed by the client"
        try:
            lines = read_lines(self.reader, self.gateway.line_max_bytes)
            refused = await self._handshake(lines)
            if refused:
                reason = refused
                return
            heartbeats.start(self)
            workers = [
                asyncio.create_task(self._hear_room()),
                asyncio.create_task(self._read_messages(lines)),
            ]
            if self.comings is not None:
                workers.append(asyncio.create_task(self.comings.announce(self._send)))
            done, _ = await asyncio.wait([*workers, writing], return_when=asyncio.FIRST_COMPLETED)
            reason = self._reason(done)
        except ClientGone as gone:
            reason = gone.reason
        except asyncio.CancelledError:
            reason = "server shutting down"
            raise
        except ConnectionError:
            pass
        except Exception:
            reason = "server error"
            log.exception("gateway client %s failed", self.peer)
            with contextlib.suppress(ClientGone):
                self._error("unavailable", "The server had a problem; try again shortly.")
        finally:
            heartbeats.stop(self)
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            if reason != "too slow":
                await self._finish_writing(writing)
            writing.cancel()
            await asyncio.gather(writing, return_exceptions=True)
            await self._leave()
            await self._close(abort=reason == "too slow")
            log.info(
                "gateway: %s (%s) in room %s disconnected: %s",
                self.peer,
                self.user.username if self.user else "-",
                self.room.pk if self.room else "-",
                reason,
            )

    def _reason(self, done: set[asyncio.Task]) -> str:
        for task in done:
            error = task.exception()
            if isinstance(error, ClientGone):
                return error.reason
            if error is not None and not isinstance(error, ConnectionError):
                log.error("gateway client %s failed", self.peer, exc_info=error)
                return "server error"
        return "closed by the client"

    def shutdown(self) -> None:
        """Say goodbye and end the connection (the server is stopping)."""
        with contextlib.suppress(ClientGone):
            self._error("shutting_down", "The server is shutting down.")
        if self.task is not None:
            self.task.cancel()

    async def _handshake(self, lines: AsyncIterator[bytes | LineTooLong]) -> str | None:
        """Read and act on the first line. None when joined; otherwise the reason the
        connection is refused, after an error line saying why."""
        timeout = self.gateway.first_line_timeout
        try:
            async with asyncio.timeout(timeout):
                line = await anext(lines, None)
        except TimeoutError:
            self._error("timeout", f"No first line within {timeout:g} seconds.")
            return "no first line"
        if line is None:
            return "closed before the first line"
        if line is TOO_LONG:
            self._error("line_too_long", self._too_long_detail())
            return "first line too long"
        try:
            fields = parse_first_line(line)
        except FirstLineError as error:
            self._error(error.code, error.detail)
            return "bad first line"
        self.json_mode = fields["json"]
        if fields["name"] is not None:
            try:
                self.user = await self._enter_as_guest(fields)
            except ChatError as error:
                self._error(error.code, error.detail)
                return "guest refused"
        elif fields["ticket"] is not None:
            self.user = await _redeem(fields["ticket"])
            if self.user is None:
                self._error("unauthorized", TICKET_UNAUTHORIZED)
                return "bad ticket"
        else:
            self.user = await _authenticate(fields["token"])
            if self.user is None:
                self._error("unauthorized", UNAUTHORIZED)
                return "bad token"
        self.signed_in = True
        self.on_signed_in()
        self.channel = await self.gateway.layer.new_channel()
        # The same cap as the socket's, claimed atomically: a line counts as a socket.
        self.on_site = True  # set first: a failure half-way is still cleaned up
        if not await presence.site_enter(self.user.pk, self.user.username, self.channel):
            self.on_site = False
            limit = settings.CHAT_SOCKETS_PER_USER
            self._error("too_many_sockets", f"At most {limit} open connections per user.")
            return "too many connections"
        try:
            await self._join(fields)
        except ChatError as error:
            self._error(error.code, error.detail)
            return error.code
        return None

    async def _enter_as_guest(self, fields: dict[str, Any]) -> User:
        """The guest `fields["name"]` of the room named (rooms/guests.py); the room is
        resolved (or, where allowed, created) first, to know who is online in it."""
        room_id = await _guest_room(fields["room"])
        online = await presence.store().online(room_id)
        fields["room"] = room_id
        return await _guest_enter(fields["name"], room_id, online)

    async def _join(self, fields: dict[str, Any]) -> None:
        # Revoking the token ends this connection.
        credential = getattr(self.user, "chat_credential", None)
        await self._subscribe(events.own_groups(self.user.pk, credential))
        room_id = await _resolve_room(fields["room"])
        # The room stream subscribes before it reads, keeps the cursor and repairs
        # gaps: the same rules as the socket's (rooms.realtime.stream).
        follow = RoomFollow(user=self.user, room_id=room_id, channel=self.channel, emit=self._emit)
        opening = await follow.open(after=fields["after"], newest=fields["history"])
        self.follow = follow
        self.room = room = opening.room
        online = await presence.room_enter(room.pk, self.user.pk, self.user.username, self.channel)
        if self.json_mode:
            await self._replay(
                wire.frame(
                    "joined",
                    room=room.pk,
                    name=room.name,
                    user=self.user.username,
                    messages=opening.messages,
                    online=online,
                    has_more=opening.has_more,
                    last_seq=room.last_seq,
                )
            )
        else:
            self.comings = Comings(online, me=self.user.username)
            await self._replay(
                f"* {self.user.username} joined {room.name} (room {room.pk}); "
                f"online: {', '.join(online)}"
            )
            for message in opening.messages:
                if self.objects_mode:
                    await self._replay(object_line(message), raw=True)
                else:
                    await self._replay(text_line(message))
        await follow.settle()

    async def _emit(self, frame: str, live: bool) -> None:
        """A message from the room stream, in seq order: as it is in JSON mode, as a
        line in text mode. Replays may wait for the client; live lines never do."""
        if self.objects_mode:
            line, raw = object_line(message_of(frame)), True
        else:
            line, raw = (frame if self.json_mode else text_line(message_of(frame))), False
        if live:
            self._send(line, raw=raw)
        else:
            await self._replay(line, raw=raw)

    async def _subscribe(self, groups: list[str]) -> None:
        self.groups += groups  # first: a half-done add is undone when it leaves
        await group_add_many(self.gateway.layer, groups, self.channel)

    async def _leave(self) -> None:
        """Unsubscribe and drop out of presence, as a closing socket does; safe on a
        client refused half-way."""
        if self.channel is None:
            return  # refused before it subscribed to anything
        layer = self.gateway.layer
        user_id, username = self.user.pk, self.user.username
        try:
            async with asyncio.timeout(5):
                for group in self.groups:
                    await layer.group_discard(group, self.channel)
                if self.room is not None:
                    await presence.room_leave(self.room.pk, user_id, username, self.channel)
                if self.on_site and await presence.site_leave(user_id, username, self.channel):
                    await _seen(user_id)
        except Exception:
            # Group membership and presence expire by themselves; log and move on.
            log.warning("gateway: cleaning up after %s failed", self.peer, exc_info=True)
        self.groups = []

    async def _finish_writing(self, writing: asyncio.Task) -> None:
        """Let the writer send what is queued (a goodbye, an error), for a moment."""
        if writing.done():
            return
        try:
            self.queue.put_nowait(None)
        except asyncio.QueueFull:
            return
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2):
                await asyncio.shield(writing)

    async def _close(self, *, abort: bool) -> None:
        """Close the connection. A slow client's unsent lines are thrown away (abort):
        they may never be read and must not hold memory on the server."""
        transport = self.writer.transport
        if abort or transport.is_closing():
            transport.abort()
            return
        self.writer.close()
        try:
            async with asyncio.timeout(2):
                await self.writer.wait_closed()
        except (TimeoutError, OSError):
            transport.abort()

    # --- from the client ---------------------------------------------------------------

    async def _read_messages(self, lines: AsyncIterator[bytes | LineTooLong]) -> None:
        """Each line is a message. One at a time: the next line is read only once the
        last is stored, so a fast sender is slowed down (TCP pushes back), not buffered."""
        async for line in lines:
            if line is TOO_LONG:
                self._error("line_too_long", self._too_long_detail())
                continue
            if not line.strip():
                continue
            try:
                body, client_id, reply_to = self._parse_message(line)
                if commands.is_command(body):
                    await self._run_command(body, client_id)
                    continue
                message, created = await _post(self.user, self.room.pk, body, client_id, reply_to)
            except ClientGone:
                raise
            except RateLimitedError as error:
                self._error(error.code, error.detail, retry_after=error.retry_after)
                continue
            except ChatError as error:
                self._error(error.code, error.detail, **error.extra)
                continue
            except (DatabaseError, InterfaceError):
                log.exception("gateway: database unavailable while posting")
                self._error("unavailable", "The server cannot reach its database; retry shortly.")
                continue
            except Exception:
                # A server fault on one line is answered and logged; the connection goes on.
                log.exception("gateway: a line from %s failed", self.peer)
                self._error("internal", "The server had a problem with that line; it was logged.")
                continue
            if not created and self.json_mode:
                # A repeated client_id: answered to the sender only, with the original.
                self._send(wire.frame("message", message=message))
        raise ClientGone("closed by the client")

    async def _run_command(self, body: str, client_id: Any) -> None:
        """A slash command, as typed in the browser. Its stored message (if any) comes
        back through the room like any other; its notice is for this client only."""
        client_id = services.clean_client_id(client_id)
        room = await _room_visible(self.user, self.room.pk)
        context = commands.Context(user=self.user, room=room, client_id=client_id)
        outcome = await commands.run(context, body)
        if outcome.notice is None:
            return
        if self.json_mode:
            self._send(wire.frame("notice", room=room.pk, text=outcome.notice, ref=client_id))
        else:
            for text in outcome.notice.splitlines():
                self._send(f"* {text}")

    def _parse_message(self, line: bytes) -> tuple[Any, Any, Any]:
        """(body, client_id, reply_to) from a line; InvalidInput for what no door takes."""
        try:
            text = line.decode()
        except UnicodeDecodeError:
            raise InvalidInput("Lines must be UTF-8 text.") from None
        if not self.json_mode:
            body = self._object_body(text) if self.objects_mode or self.detect_objects else None
            try:
                return input_checks.check_text(body or text, field="The line"), None, None
            except input_checks.UnsafeInput as exc:
                raise InvalidInput(str(exc)) from None
        try:
            data = input_checks.loads(text)
        except input_checks.UnsafeInput as exc:
            raise InvalidInput(f"Line refused: {exc}") from None
        if not isinstance(data, dict):
            raise InvalidInput('In JSON mode each line is {"body": "...", "client_id": "..."}.')
        return data.get("body"), data.get("client_id"), data.get("reply_to")

    def _object_body(self, text: str) -> str | None:
        """The body of an old client's `{"author": ..., "body": "..."}` line (its author
        is ignored: the connection's user is the author), switching the connection to
        answering in such objects; None for anything else, which is plain text (a
        person may well type "{hi}")."""
        if not text.lstrip().startswith("{"):
            return None
        try:
            data = input_checks.loads(text)
        except input_checks.UnsafeInput:
            return None
        body = data.get("body") if isinstance(data, dict) else None
        if not isinstance(body, str):
            return None
        self.objects_mode = True
        return body

    # --- from the room -----------------------------------------------------------------

    async def _hear_room(self) -> None:
        layer = self.gateway.layer
        while True:
            event = await layer.receive(self.channel)
            handler = self.EVENT_HANDLERS.get(event.get("type"))
            if handler is not None:
                await handler(self, event)

    async def on_message(self, event: dict[str, Any]) -> None:
        if event["room"] == self.room.pk:
            await self.follow.deliver(event["seq"], event["frame"])

    async def on_change(self, event: dict[str, Any]) -> None:
        if self.json_mode and event["room"] == self.room.pk:
            self._send(event["frame"])

    async def on_room_frame(self, event: dict[str, Any]) -> None:
        """Presence and typing: for programs only."""
        if self.json_mode and event["room"] == self.room.pk:
            self._send(event["frame"])

    async def on_presence(self, event: dict[str, Any]) -> None:
        """The room's online list: as it is for programs; for people, the comings and
        goings it shows, coalesced (chatclient.comings)."""
        if event["room"] != self.room.pk or event.get("at", 0) < self.presence_at:
            return  # another room's, or older than a list already heard
        self.presence_at = event.get("at", 0)
        if self.json_mode:
            self._send(event["frame"])
        elif self.comings is not None:
            self.comings.update(json.loads(event["frame"]).get("online", []))

    async def on_whisper(self, event: dict[str, Any]) -> None:
        """A whisper to or from this user in this room: the frame, or its line."""
        if event["room"] != self.room.pk:
            return
        if self.json_mode:
            self._send(event["frame"])
        else:
            self._send(whisper_line(json.loads(event["frame"]), self.user.username))

    async def on_forward(self, event: dict[str, Any]) -> None:
        # For programs: this room's updates and mutes. The user group also carries
        # other rooms' news and the notices of the user's other sockets; not those.
        if self.json_mode:
            frame = json.loads(event["frame"])
            room = frame.get("room")
            room_id = room.get("id") if isinstance(room, dict) else room
            if frame.get("type") in self.FORWARDED and room_id == self.room.pk:
                self._send(event["frame"])

    FORWARDED = frozenset({"room_updated", "muted"})

    async def on_removed(self, event: dict[str, Any]) -> None:
        if event["room"] == self.room.pk:
            detail = event.get("detail") or "You are no longer a member of this room."
            self._error("removed", detail)
            raise ClientGone("removed from the room")

    async def on_close(self, event: dict[str, Any]) -> None:
        if event.get("code") == 4403:
            self._error("unauthorized", "Your account was deactivated.")
            raise ClientGone("account deactivated")
        self._error("unauthorized", "You were signed out.")
        raise ClientGone("signed out")

    EVENT_HANDLERS = {
        "chat.message": on_message,
        "chat.change": on_change,
        "chat.room_frame": on_room_frame,
        "chat.presence": on_presence,
        "chat.whisper": on_whisper,
        "chat.forward": on_forward,
        "chat.removed": on_removed,
        "chat.close": on_close,
    }

    async def beat(self) -> None:
        """Once per heartbeat period (rooms.realtime.heartbeats): keep this connection's
        presence alive past the TTL and prune the dead, as a socket's beat does."""
        try:
            # Group entries expire (CHANNEL_GROUP_EXPIRY) and a restarted Redis has
            # forgotten them: add them again, as a socket's beat does.
            await group_add_many(self.gateway.layer, list(self.groups), self.channel)
        except Exception:
            log.warning("gateway: group refresh failed", exc_info=True)
        try:
            await presence.heartbeat([self.room.pk], self.user.pk, self.user.username, self.channel)
        except Exception:
            log.warning("gateway: presence heartbeat failed", exc_info=True)

    # --- to the client -----------------------------------------------------------------

    def _terminal_line(self, line: str, raw: bool = False) -> bytes:
        """A line as it goes out. In text mode it is for a terminal, and it may hold
        user text (a room name, online names, a notice, an error quoting a name): every
        control character in it becomes U+FFFD. JSON frames are ASCII already. In
        objects mode a line of the server's own is `{"author": "server", "body": line}`;
        `raw` is a line already made for the mode (a message)."""
        if self.objects_mode and not raw:
            line = json.dumps({"author": SERVER_AUTHOR, "body": line})
        elif not self.json_mode and not raw:
            line = terminal_safe(line, keep_newlines=False)
        return line.encode() + b"\n"

    def _send(self, line: str, *, raw: bool = False) -> None:
        """Queue a live line. A full queue means the client is not reading: drop it
        rather than hold lines for it (or make anyone wait)."""
        try:
            self.queue.put_nowait(self._terminal_line(line, raw))
        except asyncio.QueueFull:
            raise ClientGone("too slow") from None

    async def _replay(self, line: str, *, raw: bool = False) -> None:
        """Queue a replayed line, waiting up to REPLAY_WAIT for room in the queue."""
        try:
            async with asyncio.timeout(REPLAY_WAIT):
                await self.queue.put(self._terminal_line(line, raw))
        except TimeoutError:
            raise ClientGone("too slow") from None

    def _error(self, code: str, detail: str, **extra: Any) -> None:
        if self.json_mode:
            self._send(wire.frame("error", code=code, detail=detail, **extra))
        else:
            # One line, whatever the detail quotes (a refused first line names its key).
            self._send("! " + " ".join(detail.splitlines()))

    async def _write_lines(self) -> None:
        while True:
            line = await self.queue.get()
            if line is None:
                return
            self.writer.write(line)
            await self.writer.drain()

    def _too_long_detail(self) -> str:
        return f"Line too long: the limit is {self.gateway.line_max_bytes} bytes."
