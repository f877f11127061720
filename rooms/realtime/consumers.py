"""The chat socket: one per browser tab, for all of its rooms.

Thin by design: it parses frames, calls services and selectors in a thread, and
forwards broadcast frames. Its one piece of logic is ordering: it remembers the last
seq it delivered per room, drops events it already delivered, and fills any gap from
the database before delivering, so every socket sees each message once, in order,
even if the channel layer loses or reorders an event.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import DatabaseError, InterfaceError

from accounts import services as account_services
from rooms import selectors, services, wire
from rooms.errors import ChatError, InvalidInput, RateLimitedError
from rooms.models import Message
from rooms.realtime import cleanup, commands, events, presence
from rooms.realtime.db_gate import in_thread

log = logging.getLogger(__name__)

JOIN_REPLAY_BATCH = 500
TYPING_INTERVAL = 3.0  # seconds between typing events from one socket for one room
MAX_ROOMS_PER_SOCKET = 200


def _int_field(frame: dict[str, Any], name: str, *, optional: bool = False) -> int | None:
    value = frame.get(name)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(f"{name} must be a non-negative integer.")
    return value


@in_thread
def _enter(user, room_id: int, after: int | None, changed_after: int | None):
    room = services.room_enter(user=user, room_id=room_id)
    if changed_after is not None:
        rows, has_more = selectors.messages_changed_after(
            room=room, rev=changed_after, limit=JOIN_REPLAY_BATCH
        )
    elif after is not None:
        rows, has_more = selectors.messages_page(room=room, after=after, limit=JOIN_REPLAY_BATCH)
    else:
        rows, has_more = selectors.messages_page(room=room)
        has_more = False  # the newest page; older history is read over the API
    if not has_more:
        services.membership_mark_read(room=room, user=user, seq=room.last_seq)  # opening reads
    return room, [wire.message_dict(m) for m in rows], has_more


@in_thread
def _messages_between(room_id: int, after: int, up_to: int) -> list[dict[str, Any]]:
    return [
        wire.message_dict(m)
        for m in selectors.messages_between(room_id=room_id, after=after, up_to=up_to)
    ]


@in_thread
def _seen(user_id: int) -> None:
    account_services.user_seen(user_id=user_id)


@in_thread
def _mark_read(user, room_id: int, seq: int) -> None:
    room = selectors.room_get_visible(user=user, room_id=room_id)
    services.membership_mark_read(room=room, user=user, seq=seq)


@in_thread
def _post(user, room_id: int, body: Any, client_id: Any) -> tuple[Message, bool]:
    room = selectors.room_get_visible(user=user, room_id=room_id)
    return services.message_post(room=room, author=user, body=body, client_id=client_id)


class ChatConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        self.user = self.scope.get("user")
        self.joined: dict[int, int] = {}  # room id -> last seq delivered on this socket
        self.heartbeat_task: asyncio.Task | None = None
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
        if not await presence.site_has_room_for(self.user.pk):
            log.warning(
                "socket id=%s refused: too many sockets user=%s", self.socket_id, self.user.pk
            )
            await self._error(
                "too_many_sockets",
                f"At most {settings.CHAT_SOCKETS_PER_USER} open connections per user.",
            )
            await self.close(code=4429)
            return
        await self.channel_layer.group_add(events.user_group(self.user.pk), self.channel_name)
        session_key = self.scope.get("chat_session_key")
        if session_key:
            await self.channel_layer.group_add(events.session_group(session_key), self.channel_name)
        # Being on the site at all: "online" on profiles and member lists.
        await presence.site_enter(self.user.pk, self.user.username, self.channel_name)
        self.heartbeat_task = asyncio.create_task(self._heartbeat())
        cleanup.ensure_background_loop()

    async def disconnect(self, code: int) -> None:
        if self.heartbeat_task is not None:
            self.heartbeat_task.cancel()
        if self.user is None or not self.user.is_authenticated:
            return
        log.info("socket id=%s closed user=%s code=%s", self.socket_id, self.user.pk, code)
        # Rooms first: the others should see this user go at once. Each step is on its
        # own, so one failing (Redis or the database away) does not skip the rest;
        # whatever is left behind expires (presence TTL, group expiry).
        for room_id in list(self.joined):
            await self._quietly(self._unsubscribe(room_id), f"leaving room {room_id}")
        groups = [events.user_group(self.user.pk)]
        if self.scope.get("chat_session_key"):
            groups.append(events.session_group(self.scope["chat_session_key"]))
        for group in groups:
            await self._quietly(self.channel_layer.group_discard(group, self.channel_name), group)
        await self._quietly(self._leave_site(), "leaving the site")

    async def _leave_site(self) -> None:
        if await presence.site_leave(self.user.pk, self.user.username, self.channel_name):
            await _seen(self.user.pk)

    async def _quietly(self, step, what: str) -> None:
        try:
            await step
        except Exception:
            log.warning("socket id=%s closing: %s failed", self.socket_id, what, exc_info=True)

    # --- frames from the client -------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None):
        if text_data is None:
            await self._error("invalid", "Frames must be JSON text, not binary.")
            return
        if len(text_data) > settings.CHAT_FRAME_MAX_BYTES or (
            len(text_data.encode()) > settings.CHAT_FRAME_MAX_BYTES
        ):
            await self._error("invalid", "Frame is larger than 64 KiB.")
            return
        try:
            frame = json.loads(text_data)
        except ValueError:
            await self._error("invalid", "Frame is not valid JSON.")
            return
        if not isinstance(frame, dict):
            await self._error("invalid", "Frame must be a JSON object.")
            return
        handler = self.HANDLERS.get(frame.get("type"))
        ref = frame.get("client_id") if isinstance(frame.get("client_id"), str) else None
        if handler is None:
            await self._error("invalid", f"Unknown frame type: {str(frame.get('type'))[:40]!r}.")
            return
        try:
            await handler(self, frame)
        except RateLimitedError as exc:
            await self._error(exc.code, exc.detail, ref=ref, retry_after=exc.retry_after)
        except ChatError as exc:
            await self._error(exc.code, exc.detail, ref=ref, **exc.extra)
        except (DatabaseError, InterfaceError):
            log.exception("database unavailable while handling a %s frame", frame.get("type"))
            await self._error(
                "unavailable", "The server cannot reach its database; retry shortly.", ref=ref
            )

    async def on_join(self, frame: dict[str, Any]) -> None:
        room_id = _int_field(frame, "room")
        after = _int_field(frame, "after", optional=True)
        changed_after = _int_field(frame, "changed_after", optional=True)
        if room_id not in self.joined and len(self.joined) >= MAX_ROOMS_PER_SOCKET:
            raise InvalidInput(f"A socket may join at most {MAX_ROOMS_PER_SOCKET} rooms.")
        # Subscribe before reading history: a message committed after the read then
        # arrives as an event, and one also in the read is dropped by its seq.
        room, messages, has_more = await self._subscribe_and_read(room_id, after, changed_after)
        seqs = [m["seq"] for m in messages]
        if after is not None and changed_after is None:
            last = max([min(after, room.last_seq), *seqs])
        else:
            # The room row was read before the history, so max() covers a message
            # committed in between; anything newer arrives as an event.
            last = max([room.last_seq, *seqs])
        self.joined[room_id] = last
        online = await presence.room_enter(
            room_id, self.user.pk, self.user.username, self.channel_name
        )
        await self.send(
            text_data=wire.frame(
                "joined",
                room=room_id,
                messages=messages,
                online=online,
                has_more=has_more,
                last_seq=room.last_seq,
                last_rev=room.last_rev,
            )
        )
        if has_more and changed_after is None:
            await self._catch_up(room_id)

    async def _subscribe_and_read(self, room_id, after, changed_after):
        await self.channel_layer.group_add(events.room_group(room_id), self.channel_name)
        try:
            return await _enter(self.user, room_id, after, changed_after)
        except Exception:
            if room_id not in self.joined:
                await self.channel_layer.group_discard(
                    events.room_group(room_id), self.channel_name
                )
            raise

    async def _catch_up(self, room_id: int) -> None:
        """Deliver the rest of a long absence in batches, as ordinary message frames."""
        while True:
            last = self.joined[room_id]
            batch = await _messages_between(room_id, last, last + JOIN_REPLAY_BATCH)
            for message in batch:
                await self._deliver(room_id, message["seq"], wire.frame("message", message=message))
            if len(batch) < JOIN_REPLAY_BATCH:
                return

    async def on_send(self, frame: dict[str, Any]) -> None:
        room_id = _int_field(frame, "room")
        body = frame.get("body")
        if commands.is_command(body):
            await self._run_command(room_id, body, frame.get("client_id"))
            return
        message, created = await _post(self.user, room_id, body, frame.get("client_id"))
        if not created or room_id not in self.joined:
            # A repeat is answered to the sender only, with the original; a socket not
            # joined to the room gets its own message back as the acknowledgement.
            text = wire.frame("message", message=wire.message_dict(message))
            await self.send(text_data=text)

    async def _run_command(self, room_id: int, body: str, client_id: Any) -> None:
        client_id = services.clean_client_id(client_id)
        room = await in_thread(selectors.room_get_visible)(user=self.user, room_id=room_id)
        context = commands.Context(user=self.user, room=room, client_id=client_id)
        outcome = await commands.run(context, body)
        if outcome.message is not None and room_id not in self.joined:
            text = wire.frame("message", message=wire.message_dict(outcome.message))
            await self.send(text_data=text)
        if outcome.notice is not None:
            await events.anotice(
                user_id=self.user.pk, room_id=room_id, text=outcome.notice, ref=client_id
            )

    async def on_typing(self, frame: dict[str, Any]) -> None:
        """Throttled per socket and room; never stored. Only joined rooms."""
        room_id = _int_field(frame, "room")
        if room_id not in self.joined:
            raise InvalidInput("Join the room before typing in it.")
        now = asyncio.get_running_loop().time()
        if now - self.last_typing.get(room_id, -TYPING_INTERVAL) < TYPING_INTERVAL:
            return
        self.last_typing[room_id] = now
        await events.atyping(room_id=room_id, username=self.user.username)

    async def on_leave(self, frame: dict[str, Any]) -> None:
        room_id = _int_field(frame, "room")
        if room_id in self.joined:
            await self._unsubscribe(room_id)
        await self.send(text_data=wire.frame("left", room=room_id))

    async def on_read(self, frame: dict[str, Any]) -> None:
        room_id = _int_field(frame, "room")
        seq = _int_field(frame, "seq")
        await _mark_read(self.user, room_id, seq)

    async def on_ping(self, frame: dict[str, Any]) -> None:
        await self.send(text_data=wire.frame("pong"))

    HANDLERS = {
        "join": on_join,
        "send": on_send,
        "leave": on_leave,
        "read": on_read,
        "typing": on_typing,
        "ping": on_ping,
    }

    # --- events from the channel layer -----------------------------------------------

    async def chat_message(self, event: dict[str, Any]) -> None:
        room_id = event["room"]
        if room_id in self.joined:
            await self._deliver(room_id, event["seq"], event["frame"])

    async def _deliver(self, room_id: int, seq: int, text: str) -> None:
        last = self.joined.get(room_id)
        if last is None or seq <= last:
            return  # already delivered (or the socket left the room)
        if seq > last + 1:
            for missing in await _messages_between(room_id, last, seq - 1):
                await self.send(text_data=wire.frame("message", message=missing))
        await self.send(text_data=text)
        self.joined[room_id] = seq

    async def chat_change(self, event: dict[str, Any]) -> None:
        if event["room"] in self.joined:
            await self.send(text_data=event["frame"])

    async def chat_forward(self, event: dict[str, Any]) -> None:
        await self.send(text_data=event["frame"])

    async def chat_presence(self, event: dict[str, Any]) -> None:
        room_id = event["room"]
        if room_id not in self.joined or event["at"] < self.presence_at.get(room_id, 0):
            return  # not ours, or an older reading than one already shown
        self.presence_at[room_id] = event["at"]
        await self.send(text_data=event["frame"])

    async def chat_room_frame(self, event: dict[str, Any]) -> None:
        if event["room"] in self.joined:
            await self.send(text_data=event["frame"])

    async def chat_removed(self, event: dict[str, Any]) -> None:
        """Membership ended (left elsewhere, removed, banned): stop the room now."""
        room_id = event["room"]
        if room_id in self.joined:
            await self._unsubscribe(room_id)
        # Every socket of the user hears it, joined or not: room lists drop the room.
        await self.send(text_data=wire.frame("removed", room=room_id))

    async def chat_close(self, event: dict[str, Any]) -> None:
        await self.close(code=event.get("code", 4401))

    # --- helpers ---------------------------------------------------------------------

    async def _unsubscribe(self, room_id: int) -> None:
        self.joined.pop(room_id, None)
        await self.channel_layer.group_discard(events.room_group(room_id), self.channel_name)
        await presence.room_leave(room_id, self.user.pk, self.user.username, self.channel_name)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(presence.heartbeat_seconds())
            try:
                await self._refresh_groups()
            except Exception:
                log.warning("socket id=%s group refresh failed", self.socket_id, exc_info=True)
            try:
                await presence.heartbeat(
                    list(self.joined), self.user.pk, self.user.username, self.channel_name
                )
            except Exception:
                log.warning("socket id=%s presence heartbeat failed", self.socket_id, exc_info=True)

    async def _refresh_groups(self) -> None:
        """Add this socket to its groups again: group entries expire after
        CHANNEL_GROUP_EXPIRY (so a dead process's channels drop out), and a restarted
        Redis has forgotten them all."""
        layer, channel = self.channel_layer, self.channel_name
        await layer.group_add(events.user_group(self.user.pk), channel)
        session_key = self.scope.get("chat_session_key")
        if session_key:
            await layer.group_add(events.session_group(session_key), channel)
        for room_id in list(self.joined):
            await layer.group_add(events.room_group(room_id), channel)
            if room_id not in self.joined:  # left meanwhile: undo, as the leave did
                await layer.group_discard(events.room_group(room_id), channel)

    async def _error(self, code: str, detail: str, *, ref: str | None = None, **extra: Any):
        await self.send(text_data=wire.frame("error", code=code, detail=detail, ref=ref, **extra))
