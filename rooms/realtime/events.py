"""The one module that talks to the channel layer on behalf of services.

It knows the group names and the event shapes. Services call these functions inside
their transaction; each event is sent only after the transaction commits, so nobody
hears of a change that could still roll back.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from rooms import wire
from rooms.models import Message
from rooms.realtime import presence

log = logging.getLogger(__name__)


def room_group(room_id: int) -> str:
    return f"room.{room_id}"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def session_group(session_key: str) -> str:
    # Session keys are [a-z0-9]; the group name stays within the layer's alphabet.
    return f"session.{session_key}"


# Sockets run services in a thread pool (rooms.realtime.db_gate.in_thread). There a broadcast
# is not sent from the thread, which would hold the thread (and its database
# connection) until the event loop gets round to it; it is collected here and sent by
# the loop itself as soon as the call returns, still after the commit, in order.
_collecting = threading.local()


def collect_broadcasts() -> list[tuple[str, dict[str, Any]]]:
    """Start collecting this thread's broadcasts instead of sending them; returns the
    list they are added to. Pair with stop_collecting() in a finally."""
    pending: list[tuple[str, dict[str, Any]]] = []
    _collecting.pending = pending
    return pending


def stop_collecting() -> None:
    _collecting.pending = None


async def asend_all(pending: list[tuple[str, dict[str, Any]]]) -> None:
    """Send collected broadcasts from the event loop, in the order they were made."""
    layer = get_channel_layer()
    if layer is None:
        return
    for group, event in pending:
        try:
            await layer.group_send(group, event)
        except Exception:
            log.exception("group_send to %s failed", group)


def _send_now(group: str, event: dict[str, Any]) -> None:
    pending = getattr(_collecting, "pending", None)
    if pending is not None:
        pending.append((group, event))
        return
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, event)
    except Exception:
        # The change is committed; sockets repair gaps from the database on the next
        # event or rejoin, so a failed broadcast delays delivery but loses nothing.
        log.exception("group_send to %s failed", group)


def send_on_commit(group: str, event: dict[str, Any]) -> None:
    transaction.on_commit(lambda: _send_now(group, event))


def message_created(message: Message) -> None:
    """Broadcast a stored message. The frame is serialised once here, not once per
    socket: consumers forward the text as it is."""
    text = wire.frame("message", message=wire.message_dict(message))
    send_on_commit(
        room_group(message.room_id),
        {"type": "chat.message", "room": message.room_id, "seq": message.seq, "frame": text},
    )


def message_changed(message: Message) -> None:
    """An edit or a deletion of an already delivered message."""
    if message.deleted:
        text = wire.frame("message_deleted", room=message.room_id, seq=message.seq)
    else:
        text = wire.frame("message_updated", message=wire.message_dict(message))
    send_on_commit(
        room_group(message.room_id),
        {"type": "chat.change", "room": message.room_id, "rev": message.rev, "frame": text},
    )


def room_activity(*, room_id: int, user_ids: list[int], summary: dict[str, Any]) -> None:
    """Tell members' sockets (in any room) that a private room has news, for the list."""
    text = wire.frame("room_activity", room=room_id, **summary)
    for user_id in user_ids:
        send_on_commit(user_group(user_id), {"type": "chat.forward", "frame": text})


def mentioned(*, user_id: int, message: Message) -> None:
    """Someone @mentioned the user: every socket of theirs hears it, in any room."""
    text = wire.frame("mention", room=message.room_id, message=wire.message_dict(message))
    send_on_commit(user_group(user_id), {"type": "chat.forward", "frame": text})


def membership_ended(*, room_id: int, user_id: int) -> None:
    """The user is no longer a member: every socket of theirs leaves the room now."""
    send_on_commit(user_group(user_id), {"type": "chat.removed", "room": room_id})


def room_updated(*, room_id: int, room: dict[str, Any]) -> None:
    text = wire.frame("room_updated", room=room)
    send_on_commit(room_group(room_id), {"type": "chat.forward", "frame": text})


def read_moved(*, room_id: int, user_id: int, seq: int) -> None:
    """A read position moved: every socket of that user (other tabs, devices) hears it."""
    text = wire.frame("read", room=room_id, seq=seq)
    send_on_commit(user_group(user_id), {"type": "chat.forward", "frame": text})


def muted(*, room_id: int, user_id: int, until: str | None, reason: str) -> None:
    """Tell the member's sockets, so the composer can say why it is disabled."""
    text = wire.frame("muted", room=room_id, until=until, reason=reason)
    send_on_commit(user_group(user_id), {"type": "chat.forward", "frame": text})


def session_ended(session_key: str) -> None:
    """Log-out: close every socket opened with that session, on every process."""
    _send_now(session_group(session_key), {"type": "chat.close", "code": 4401})


def user_deactivated(user_id: int) -> None:
    send_on_commit(user_group(user_id), {"type": "chat.close", "code": 4403})


# Presence frames are coalesced per room in each process: a burst of joins (a page
# reload of many tabs, a server restart) sends one current list instead of one frame
# per join to every socket, which grows with the square of the room's size.
PRESENCE_COALESCE_SECONDS = 0.2
_presence_pending: dict[int, asyncio.Task] = {}


async def apresence_changed(*, room_id: int) -> None:
    """Announce the room's online list soon (presence is not stored, so there is no
    transaction to wait for)."""
    loop = asyncio.get_running_loop()
    pending = _presence_pending.get(room_id)
    if pending is not None and not pending.done() and pending.get_loop() is loop:
        return  # a broadcast is already on its way and will read the newest list
    _presence_pending[room_id] = loop.create_task(_broadcast_presence(room_id))


async def _broadcast_presence(room_id: int) -> None:
    await asyncio.sleep(PRESENCE_COALESCE_SECONDS)
    # Unregister before reading, so a change during the read schedules another send.
    _presence_pending.pop(room_id, None)
    try:
        read_at = time.time()
        online = await presence.store().online(room_id)
        text = wire.frame("presence", room=room_id, online=online)
        # Two processes' lists can cross on the way; `at` lets each socket keep the
        # newest reading and drop an older one that arrives late.
        await get_channel_layer().group_send(
            room_group(room_id),
            {"type": "chat.presence", "room": room_id, "at": read_at, "frame": text},
        )
    except Exception:
        log.warning("presence broadcast for room %s failed", room_id, exc_info=True)


async def anotice(*, user_id: int, room_id: int, text: str, ref: str | None = None) -> None:
    """An answer for one user only (a command's reply), on all of their sockets."""
    frame = wire.frame("notice", room=room_id, text=text, ref=ref)
    await get_channel_layer().group_send(
        user_group(user_id), {"type": "chat.forward", "frame": frame}
    )


async def atyping(*, room_id: int, username: str) -> None:
    frame = wire.frame("typing", room=room_id, user=username)
    await get_channel_layer().group_send(
        room_group(room_id), {"type": "chat.room_frame", "room": room_id, "frame": frame}
    )
