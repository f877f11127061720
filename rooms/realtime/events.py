"""The one module that talks to the channel layer on behalf of services.

It knows the group names and the event shapes. Services call these functions inside
their transaction; each event is sent only after the transaction commits, so nobody
hears of a change that could still roll back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from rooms import wire
from rooms.models import Message
from rooms.realtime import checkpoints, tails

log = logging.getLogger(__name__)


def room_group(room_id: int) -> str:
    return f"room.{room_id}"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def session_group(session_key: str) -> str:
    # Session keys are [a-z0-9]; the group name stays within the layer's alphabet.
    return f"session.{session_key}"


def credential_group(credential: str) -> str:
    """Every connection opened with one credential ("session:<key>" or "token:<id>",
    directly or through a ticket it made) is in this group, so revoking the credential
    closes them all, on every process."""
    kind, _, value = credential.partition(":")
    return f"{kind}.{value}"


def own_groups(user_id: int, credential: str | None) -> list[str]:
    """The groups of a connection itself, whatever its door: its user's (deactivation,
    forwarded notices) and its credential's when it has one (log-out or revocation
    closes it)."""
    groups = [user_group(user_id)]
    if credential:
        groups.append(credential_group(credential))
    return groups


# --- Sending, after commit -------------------------------------------------------------
#
# A committed change is broadcast in one of two ways, chosen by where the service ran:
# from a request thread it is sent at once, in the thread, right after the commit; from
# the sockets' thread pool (rooms.realtime.db_gate.in_thread) it goes into an Outbox
# that the event loop flushes as soon as the call returns, so the thread (and its
# database connection) is free the moment its transaction commits. Either way it is
# after the commit and in the order the changes committed.


class Outbox:
    """Broadcasts committed during one call, held for the event loop to send."""

    def __init__(self) -> None:
        self.pending: list[tuple[str, dict[str, Any]]] = []

    async def flush(self) -> None:
        """Send what was collected, in order, from the event loop."""
        if not self.pending:
            return
        await checkpoints.reached(
            "events.committed", types=[event["type"] for _, event in self.pending]
        )
        pending, self.pending = self.pending, []
        for group, event in pending:
            _check_sendable(group)
            try:
                await _broadcast(group, event)
            except Exception:
                log.exception("group_send to %s failed", group)


async def _broadcast(group: str, event: dict[str, Any], layer: Any = None) -> None:
    """Send a committed change (on `layer`, by default the configured one). A message is
    announced again once its room goes quiet (rooms.realtime.tails), even when this
    send failed: the re-announcement is what repairs a burst's end that nobody heard."""
    try:
        await (layer or get_channel_layer()).group_send(group, event)
    finally:
        if event["type"] == "chat.message":
            tails.broadcast_sent(group, event)


_outbox: ContextVar[Outbox | None] = ContextVar("chat_outbox", default=None)


@contextmanager
def outbox() -> Iterator[Outbox]:
    """Within the block, broadcasts committed in this context are held in the Outbox
    it yields instead of being sent; the caller flushes it from the event loop."""
    box = Outbox()
    token = _outbox.set(box)
    try:
        yield box
    finally:
        _outbox.reset(token)


# Tests install a check here that fails any test broadcasting inside an open
# transaction (tests/conftest.py); production leaves it unset.
send_check: Callable[[str], None] | None = None


def _check_sendable(group: str) -> None:
    if send_check is not None:
        send_check(group)


def addressed(group: str, event: dict[str, Any]) -> dict[str, Any]:
    """The event naming the group it is sent to: one channel in several groups (a
    process's long-poll hub, rooms.realtime.hub) tells them apart by it."""
    return {**event, "group": group}


def _send_now(group: str, event: dict[str, Any]) -> None:
    event = addressed(group, event)
    box = _outbox.get()
    if box is not None:
        box.pending.append((group, event))
        return
    layer = get_channel_layer()
    if layer is None:
        return
    _check_sendable(group)
    try:
        # Under the ASGI server this runs on the server's event loop (a request's
        # thread hands it over), so its tail is re-announced like a socket's post.
        async_to_sync(_broadcast)(group, event, layer)
    except Exception:
        # The change is committed; readers repair gaps from the database (see
        # rooms.realtime.stream), so a failed broadcast delays delivery but loses nothing.
        log.exception("group_send to %s failed", group)


async def asend(group: str, event: dict[str, Any]) -> None:
    """Send an event that nothing stores (presence, typing, a command's notice) from
    the event loop."""
    _check_sendable(group)
    await get_channel_layer().group_send(group, addressed(group, event))


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


# room_activity and mention frames carry the recipient's effective `notify_level` for
# that room. They already go to one user group each, so marking them costs no extra
# query or round trip, and a client in any room knows, for the very message, whether
# to notify: no list of levels to fetch, cache and keep fresh when another tab or
# device changes one. (The frames are still sent at every level: the room list uses
# them for unread counts and previews.)


def room_activity(*, room_id: int, notify_levels: dict[int, str], summary: dict[str, Any]) -> None:
    """Tell members' sockets (in any room) that a private room has news, for the list.
    `notify_levels`: {user id: their effective level}; one frame text per level."""
    texts: dict[str, str] = {}
    for user_id, level in notify_levels.items():
        if level not in texts:
            texts[level] = wire.frame("room_activity", room=room_id, notify_level=level, **summary)
        send_on_commit(user_group(user_id), {"type": "chat.forward", "frame": texts[level]})


def mentioned(*, user_id: int, message: Message, notify_level: str) -> None:
    """Someone @mentioned the user: every socket of theirs hears it, in any room."""
    text = wire.frame(
        "mention",
        room=message.room_id,
        notify_level=notify_level,
        message=wire.message_dict(message),
    )
    send_on_commit(user_group(user_id), {"type": "chat.forward", "frame": text})


def notify_level_changed(*, room_id: int, user_id: int, level: str) -> None:
    """The user chose a room's notify level: their other tabs and devices follow."""
    text = wire.frame("notify_level", room=room_id, level=level)
    send_on_commit(user_group(user_id), {"type": "chat.forward", "frame": text})


def do_not_disturb_changed(*, user_id: int, on: bool, until: str | None) -> None:
    """The user turned do-not-disturb on (until `until`, ISO; null: no end) or off."""
    text = wire.frame("do_not_disturb", on=on, until=until)
    send_on_commit(user_group(user_id), {"type": "chat.forward", "frame": text})


def whisper(
    *, room_id: int, sender, target, message: Message, ref: str | None, to_sender_only: bool
) -> None:
    """A whisper in `room_id` (stored as `message` in the pair's 1:1 room): heard by
    the connections of the two users that are joined to that room, nobody else's.
    A repeat (the same client_id again) is answered to the sender alone."""
    text = wire.frame(
        "whisper",
        room=room_id,
        **{"from": sender.username, "to": target.username},
        from_name=sender.shown_name,
        to_name=target.shown_name,
        text=message.body,
        created_at=message.created.isoformat(),
        direct_room=message.room_id,
        seq=message.seq,
        ref=ref,
    )
    event = {"type": "chat.whisper", "room": room_id, "frame": text}
    for user_id in [sender.pk] if to_sender_only else [sender.pk, target.pk]:
        send_on_commit(user_group(user_id), event)


def membership_ended(*, room_id: int, user_id: int, detail: str = "") -> None:
    """The user is no longer a member: every socket of theirs leaves the room now.
    `detail` says why where it is news to them (a ban and its reason)."""
    send_on_commit(user_group(user_id), {"type": "chat.removed", "room": room_id, "detail": detail})


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


def credential_revoked(credential: str) -> None:
    """A token was revoked (after commit) or a session ended: its connections close."""
    send_on_commit(credential_group(credential), {"type": "chat.close", "code": 4401})


def session_ended(session_key: str) -> None:
    """Log-out: close every socket opened with that session, on every process."""
    _send_now(session_group(session_key), {"type": "chat.close", "code": 4401})


def user_deactivated(user_id: int) -> None:
    send_on_commit(user_group(user_id), {"type": "chat.close", "code": 4403})


async def anotice(*, user_id: int, room_id: int, text: str, ref: str | None = None) -> None:
    """An answer for one user only (a command's reply), on all of their sockets."""
    frame = wire.frame("notice", room=room_id, text=text, ref=ref)
    await asend(user_group(user_id), {"type": "chat.forward", "frame": frame})


async def atyping(*, room_id: int, username: str) -> None:
    frame = wire.frame("typing", room=room_id, user=username)
    await asend(room_group(room_id), {"type": "chat.room_frame", "room": room_id, "frame": frame})
