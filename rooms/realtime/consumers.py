"""The chat socket: one per browser tab, for all of its rooms.

A thin adapter. Frames pass the edge check in rooms.realtime.frames, then a handler
calls a service or the room stream; each room the socket joined is a
rooms.realtime.stream.RoomFollow, which owns ordering (each message once, in seq
order, gaps repaired), so this module only turns what it hands over into frames.

Nothing a client sends can kill the socket: every frame and every event goes through
one guard (`dispatch`), which answers a client mistake with an `error` frame and a
server fault with an `internal` error frame after logging it once. Only auth (4401,
4403), the per-user cap (4429) and a server shutdown close a socket. Clean-up runs in
a `finally` for every way a socket ends, a failed connect included.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from channels.consumer import get_handler_name
from channels.exceptions import AcceptConnection, DenyConnection, StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import DatabaseError, InterfaceError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from accounts import services as account_services
from chatsite.channel_layer import group_add_many
from rooms import access, moderation, services, threads, wire
from rooms.errors import ChatError, InvalidInput, RateLimitedError
from rooms.realtime import cleanup, commands, events, frames, heartbeats, presence
from rooms.realtime.db_gate import in_thread
from rooms.realtime.gone import CLIENT_GONE
from rooms.realtime.send_queue import Pending, SendQueue
from rooms.realtime.stream import RoomFollow

log = logging.getLogger(__name__)

TYPING_INTERVAL = 3.0  # seconds between typing events from one socket for one room
MAX_ROOMS_PER_SOCKET = 200
_CONTROL_FLOW = (StopConsumer, AcceptConnection, DenyConnection)
# A backing service out of reach (the database, or Redis for the rate limit): the
# client gets `unavailable` and retries, not `internal`.
UNAVAILABLE = (DatabaseError, InterfaceError, RedisConnectionError, RedisTimeoutError)


class ClientClosed(Exception):
    """The client closed while an event for it was on its way; its `websocket.disconnect`
    is queued behind this event and cleans up. Nothing to report."""


@in_thread
def _seen(user_id: int) -> None:
    account_services.user_seen(user_id=user_id)


@in_thread
def _mark_read(user, room_id: int, seq: int) -> None:
    room = access.room_get_visible(user=user, room_id=room_id)
    services.membership_mark_read(room=room, user=user, seq=seq)


@in_thread
def _pin(user, room_id: int, seq: int, pinned: bool) -> None:
    message = access.message_get_visible_by_seq(user=user, room_id=room_id, seq=seq)
    moderation.message_pin(message=message, by=user, pinned=pinned)


@in_thread
def _post_many(user, room_id: int, frames: list[dict[str, Any]]) -> list[services.PostOutcome]:
    """One batch of a socket's sends to one room (rooms.realtime.send_queue)."""
    room, membership = access.room_and_membership(user=user, room_id=room_id)
    drafts = [
        services.Draft(
            body=frame.get("body"),
            client_id=frame.get("client_id"),
            reply_to=frame.get("reply_to"),
            attachments=frame.get("attachments"),
            thread_only=frame.get("thread_only"),
        )
        for frame in frames
    ]
    return services.messages_post(room=room, author=user, drafts=drafts, membership=membership)


class ChatConsumer(AsyncWebsocketConsumer):
    user: Any = None
    on_site = False  # registered in site presence (counts against the per-user cap)
    cleaned_up = False

    async def __call__(self, scope, receive, send):
        self.sends = SendQueue(self._handle_sends)
        try:
            await super().__call__(scope, receive, send)
        finally:
            # However the socket ended: a normal close, a failed connect, a server
            # shutdown cancelling it. Idempotent; disconnect() may have run it already.
            await self._clean_up()
            self.sends.drop_waiting()

    async def dispatch(self, message: dict[str, Any]) -> None:
        """The one guard: no frame and no event can end the socket by raising.

        Channels' own dispatch first runs close_old_connections in its one shared sync
        thread, for every frame and every event: one thread hop each, all the process's
        sockets queued on one thread. Nothing here needs it: every database call of
        this socket (in_thread, and the auth middleware's) closes its connection
        itself when it ends. So the handler is called directly."""
        try:
            handler = getattr(self, get_handler_name(message), None)
            if handler is None:
                raise ValueError(f"No handler for message type {message['type']}")
            await handler(message)
        except _CONTROL_FLOW:
            raise
        except ClientClosed:
            log.debug("socket id=%s: %s after the client closed", self.socket_id, message["type"])
        except Exception:
            log.exception(
                "socket id=%s: %s failed", getattr(self, "socket_id", "-"), message.get("type")
            )
            if message.get("type") == "websocket.connect":
                raise  # never accepted: nothing to answer on; the finally cleans up
            try:
                await self._error("internal", "The server had a problem; it was logged.")
            except Exception:
                log.warning("socket: could not report an internal error", exc_info=True)

    async def send(self, text_data=None, bytes_data=None, close=False) -> None:
        try:
            await super().send(text_data=text_data, bytes_data=bytes_data, close=close)
        except CLIENT_GONE as exc:
            raise ClientClosed from exc

    async def connect(self) -> None:
        self.user = self.scope.get("user")
        self.follows: dict[int, RoomFollow] = {}  # the rooms this socket joined
        self.last_typing: dict[int, float] = {}
        self.presence_at: dict[int, float] = {}  # room id -> time of the list last sent
        # A short id for this socket in the logs (the channel name's random tail).
        self.socket_id = self.channel_name.rsplit("!", 1)[-1][-12:]
        await self.accept()
        if self.user is None or not self.user.is_authenticated:
            # Accept then close: clients can tell "refused" (4401) from a network error.
            log.info("socket id=%s refused auth=%s", self.socket_id, self.scope.get("auth_method"))
            await self.close(code=4401)
            return
        log.info(
            "socket id=%s open user=%s auth=%s",
            self.socket_id,
            self.user.pk,
            self.scope.get("auth_method"),
        )
        # Being on the site at all ("online" on profiles), within the per-user cap.
        self.on_site = True  # set first: a failure half-way is still cleaned up
        if not await presence.site_enter(self.user.pk, self.user.username, self.channel_name):
            self.on_site = False
            log.warning(
                "socket id=%s refused: too many sockets user=%s", self.socket_id, self.user.pk
            )
            await self._error(
                "too_many_sockets",
                f"At most {settings.CHAT_SOCKETS_PER_USER} open connections per user.",
            )
            await self.close(code=4429)
            return
        # Its user's group, and its credential's: logging out, or revoking the token,
        # closes this socket (4401).
        await group_add_many(self.channel_layer, self._own_groups(), self.channel_name)
        heartbeats.start(self)
        cleanup.ensure_background_loop()

    async def disconnect(self, code: int) -> None:
        if self.user is not None and self.user.is_authenticated:
            log.info("socket id=%s closed user=%s code=%s", self.socket_id, self.user.pk, code)
        await self._clean_up()

    async def _clean_up(self) -> None:
        """Stop the heartbeat, leave the rooms (the others see this user go at once),
        the groups and the site. Each step on its own, so one failing (Redis or the
        database away) skips nothing; whatever is left behind expires (presence TTL,
        group expiry)."""
        if self.cleaned_up:
            return
        self.cleaned_up = True
        heartbeats.stop(self)
        if self.user is None or not self.user.is_authenticated or not self.on_site:
            return
        # What the client sent before it closed is still stored (and broadcast).
        await self._quietly(self.sends.drained(), "storing the sends still waiting")
        for room_id in list(self.follows):
            await self._quietly(self._unsubscribe(room_id), f"leaving room {room_id}")
        for group in self._own_groups():
            await self._quietly(self.channel_layer.group_discard(group, self.channel_name), group)
        await self._quietly(self._leave_site(), "leaving the site")

    async def _leave_site(self) -> None:
        if await presence.site_leave(self.user.pk, self.user.username, self.channel_name):
            await _seen(self.user.pk)

    async def _quietly(self, step, what: str) -> None:
        try:
            async with asyncio.timeout(5):
                await step
        except Exception:
            log.warning("socket id=%s closing: %s failed", self.socket_id, what, exc_info=True)

    # --- frames from the client -------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None):
        ref = None
        try:
            frame = frames.parse(text_data, bytes_data)
            ref = frames.ref_of(frame)
            handler = self.HANDLERS.get(frame["type"])
            if handler is None:
                raise InvalidInput(f"Unknown frame type: {frame['type'][:40]!r}.")
            await handler(self, frame)
        except (ChatError, *UNAVAILABLE) as exc:
            await self._refuse(exc, ref)

    async def _refuse(self, exc: Exception, ref: str | None) -> None:
        """The error frame for a refused frame: a service's reason, or the database
        being away."""
        if isinstance(exc, RateLimitedError):
            await self._error(exc.code, exc.detail, ref=ref, retry_after=exc.retry_after)
        elif isinstance(exc, ChatError):
            await self._error(exc.code, exc.detail, ref=ref, **exc.extra)
        else:
            log.error("database or Redis unavailable while handling a frame", exc_info=exc)
            await self._error(
                "unavailable",
                "The server cannot reach its database or Redis; retry shortly.",
                ref=ref,
            )

    async def on_join(self, frame: dict[str, Any]) -> None:
        room_id = frames.int_field(frame, "room")
        await self.sends.drained()  # the sends before it, as if one frame at a time
        after = frames.int_field(frame, "after", optional=True)
        changed_after = frames.int_field(frame, "changed_after", optional=True)
        if room_id not in self.follows and len(self.follows) >= MAX_ROOMS_PER_SOCKET:
            raise InvalidInput(f"A socket may join at most {MAX_ROOMS_PER_SOCKET} rooms.")
        follow = self.follows.get(room_id) or RoomFollow(
            user=self.user, room_id=room_id, channel=self.channel_name, emit=self._emit
        )
        opening = await follow.open(
            after=after, changed_after=changed_after, newest=settings.CHAT_PAGE_DEFAULT
        )
        self.follows[room_id] = follow
        online = await presence.room_enter(
            room_id, self.user.pk, self.user.username, self.channel_name
        )
        room = opening.room
        await self.send(
            text_data=wire.frame(
                "joined",
                room=room_id,
                user=self.user.username,
                messages=opening.messages,
                online=online,
                has_more=opening.has_more,
                last_seq=room.last_seq,
                last_rev=room.last_rev,
            )
        )
        if changed_after is None or not opening.has_more:
            # The rest of a long absence, and anything committed since the read.
            await follow.settle()

    async def _emit(self, frame: str, live: bool) -> None:
        await self.send(text_data=frame)

    async def on_send(self, frame: dict[str, Any]) -> None:
        """Queued, not awaited: the socket reads on while it is stored (send_queue)."""
        room_id = frames.int_field(frame, "room")
        # A reply is never a command: its body is stored as written, so "/shrug" in a
        # thread stays in that thread (rooms/threads.py).
        is_command = commands.is_command(frame.get("body")) and frame.get("reply_to") is None
        if is_command:
            threads.clean_thread_only(frame.get("thread_only"), reply_to=None)  # as a post would
        self.sends.put(Pending(room_id, frame, frames.ref_of(frame), is_command=is_command))

    async def _handle_sends(self, items: list[Pending]) -> None:
        """A batch from the send queue; every refusal goes back as the error frame of
        the send it answers. Raises nothing: the queue's task must go on."""
        try:
            if items[0].is_command:
                await self.sends.broadcasts_sent()  # the posts before it are heard first
                frame = items[0].frame
                await self._run_command(items[0].room_id, frame.get("body"), frame.get("client_id"))
            else:
                await self._post_batch(items)
        except ClientClosed:
            pass  # stored all the same; nobody left to answer
        except (ChatError, *UNAVAILABLE) as exc:
            await self._refuse_all(items, exc)
        except Exception as exc:
            log.exception("socket id=%s: send failed", self.socket_id)
            await self._refuse_all(items, exc, internal=True)

    async def _refuse_all(self, items: list[Pending], exc: Exception, internal=False) -> None:
        try:
            for item in items:
                if internal:
                    await self._error(
                        "internal", "The server had a problem; it was logged.", ref=item.ref
                    )
                else:
                    await self._refuse(exc, item.ref)
        except ClientClosed:
            pass

    async def _post_batch(self, items: list[Pending]) -> None:
        room_id = items[0].room_id
        outcomes, box = await _post_many.deferred(
            self.user, room_id, [item.frame for item in items]
        )
        self.sends.broadcast(box)  # after the previous batch's; the next may start now
        for item, outcome in zip(items, outcomes, strict=True):
            if isinstance(outcome, ChatError):
                await self._refuse(outcome, item.ref)
                continue
            message, created = outcome
            if not created or room_id not in self.follows:
                # A repeat is answered to the sender only, with the original; a socket not
                # joined to the room gets its own message back as the acknowledgement.
                text = wire.frame("message", message=wire.message_dict(message))
                await self.send(text_data=text)

    async def _run_command(self, room_id: int, body: str, client_id: Any) -> None:
        client_id = services.clean_client_id(client_id)
        room = await in_thread(access.room_get_visible)(user=self.user, room_id=room_id)
        context = commands.Context(user=self.user, room=room, client_id=client_id)
        outcome = await commands.run(context, body)
        if outcome.message is not None and room_id not in self.follows:
            text = wire.frame("message", message=wire.message_dict(outcome.message))
            await self.send(text_data=text)
        if outcome.notice is not None:
            await events.anotice(
                user_id=self.user.pk, room_id=room_id, text=outcome.notice, ref=client_id
            )

    async def on_typing(self, frame: dict[str, Any]) -> None:
        """Throttled per socket and room; never stored. Only joined rooms."""
        room_id = frames.int_field(frame, "room")
        if room_id not in self.follows:
            raise InvalidInput("Join the room before typing in it.")
        now = asyncio.get_running_loop().time()
        if now - self.last_typing.get(room_id, -TYPING_INTERVAL) < TYPING_INTERVAL:
            return
        self.last_typing[room_id] = now
        await events.atyping(room_id=room_id, username=self.user.username)

    async def on_leave(self, frame: dict[str, Any]) -> None:
        room_id = frames.int_field(frame, "room")
        await self.sends.drained()
        if room_id in self.follows:
            await self._unsubscribe(room_id)
        await self.send(text_data=wire.frame("left", room=room_id))

    async def on_read(self, frame: dict[str, Any]) -> None:
        room_id = frames.int_field(frame, "room")
        seq = frames.int_field(frame, "seq")
        await _mark_read(self.user, room_id, seq)

    async def on_pin(self, frame: dict[str, Any]) -> None:
        """Pin or unpin a message, as POST / DELETE /api/messages/{id}/pin do. No answer
        of its own: the change reaches every socket joined to the room, this one too,
        as `message_updated`; a refusal is an `error` frame."""
        room_id = frames.int_field(frame, "room")
        seq = frames.int_field(frame, "seq")
        pinned = frame.get("pinned", True)
        if not isinstance(pinned, bool):
            raise InvalidInput("pinned must be true or false.")
        await _pin(self.user, room_id, seq, pinned)

    async def on_ping(self, frame: dict[str, Any]) -> None:
        await self.send(text_data=wire.frame("pong"))

    HANDLERS = {
        "join": on_join,
        "send": on_send,
        "leave": on_leave,
        "read": on_read,
        "pin": on_pin,
        "typing": on_typing,
        "ping": on_ping,
    }

    # --- events from the channel layer -----------------------------------------------

    async def chat_message(self, event: dict[str, Any]) -> None:
        follow = self.follows.get(event["room"])
        if follow is not None:
            await follow.deliver(event["seq"], event["frame"])

    async def chat_change(self, event: dict[str, Any]) -> None:
        if event["room"] in self.follows:
            await self.send(text_data=event["frame"])

    async def chat_forward(self, event: dict[str, Any]) -> None:
        await self.send(text_data=event["frame"])

    async def chat_presence(self, event: dict[str, Any]) -> None:
        room_id = event["room"]
        if room_id not in self.follows or event["at"] < self.presence_at.get(room_id, 0):
            return  # not ours, or an older reading than one already shown
        self.presence_at[room_id] = event["at"]
        await self.send(text_data=event["frame"])

    async def chat_whisper(self, event: dict[str, Any]) -> None:
        """A whisper to or from this user: only the sockets joined to its room."""
        if event["room"] in self.follows:
            await self.send(text_data=event["frame"])

    async def chat_room_frame(self, event: dict[str, Any]) -> None:
        if event["room"] in self.follows:
            await self.send(text_data=event["frame"])

    async def chat_removed(self, event: dict[str, Any]) -> None:
        """Membership ended (left elsewhere, removed, banned): stop the room now."""
        room_id = event["room"]
        if room_id in self.follows:
            await self._unsubscribe(room_id)
        # Every socket of the user hears it, joined or not: room lists drop the room.
        detail = event.get("detail") or "You are no longer a member of this room."
        await self.send(text_data=wire.frame("removed", room=room_id, detail=detail))

    async def chat_close(self, event: dict[str, Any]) -> None:
        await self.close(code=event.get("code", 4401))

    # --- helpers ---------------------------------------------------------------------

    async def _unsubscribe(self, room_id: int) -> None:
        follow = self.follows.pop(room_id, None)
        if follow is not None:
            await follow.close()
        await presence.room_leave(room_id, self.user.pk, self.user.username, self.channel_name)

    async def beat(self) -> None:
        """Once per heartbeat period (rooms.realtime.heartbeats): groups and presence."""
        try:
            await self._refresh_groups()
        except Exception:
            log.warning("socket id=%s group refresh failed", self.socket_id, exc_info=True)
        try:
            await presence.heartbeat(
                list(self.follows), self.user.pk, self.user.username, self.channel_name
            )
        except Exception:
            log.warning("socket id=%s presence heartbeat failed", self.socket_id, exc_info=True)

    def _own_groups(self) -> list[str]:
        """The groups of the socket itself (not of its rooms)."""
        return events.own_groups(self.user.pk, self.scope.get("chat_credential"))

    async def _refresh_groups(self) -> None:
        """Add this socket to its groups again, in one round trip: group entries expire
        after CHANNEL_GROUP_EXPIRY (so a dead process's channels drop out), and a
        restarted Redis has forgotten them all."""
        layer, channel = self.channel_layer, self.channel_name
        rooms = list(self.follows)
        groups = self._own_groups() + [events.room_group(room_id) for room_id in rooms]
        await group_add_many(layer, groups, channel)
        for room_id in rooms:
            if room_id not in self.follows:  # left meanwhile: undo, as the leave did
                await layer.group_discard(events.room_group(room_id), channel)

    async def _error(self, code: str, detail: str, *, ref: str | None = None, **extra: Any):
        await self.send(text_data=wire.frame("error", code=code, detail=detail, ref=ref, **extra))
