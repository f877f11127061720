"""Closing idle temporary rooms and expiring idle guests: the management command
`closeidlerooms` closes rooms once, and every server process runs both every
CHAT_CLEANUP_INTERVAL seconds (60) in the background."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone

from rooms import guests, selectors, services
from rooms.realtime import presence

log = logging.getLogger(__name__)
_loop_task: asyncio.Task | None = None


async def close_idle_rooms() -> list[int]:
    """Close every temporary room idle for CHAT_EPHEMERAL_IDLE seconds with nobody
    connected. Idempotent; returns the ids this call closed."""
    idle_before = timezone.now() - timedelta(seconds=settings.CHAT_EPHEMERAL_IDLE)
    candidates = await database_sync_to_async(selectors.idle_temporary_room_ids)(
        idle_before=idle_before
    )
    closed = []
    for room_id in candidates:
        await presence.store().prune(room_id)
        if await presence.store().online(room_id):
            continue  # someone is there: not idle
        if await database_sync_to_async(services.room_close_if_idle)(
            room_id=room_id, idle_before=idle_before
        ):
            closed.append(room_id)
    if closed:
        log.info("closed idle temporary rooms %s", closed)
    return closed


async def expire_idle_guests() -> list[int]:
    """Deactivate every guest offline for CHAT_GUEST_IDLE seconds (rooms/guests.py):
    the database's last_seen picks the candidates, presence spares those connected
    now (a guest connected for days has an old last_seen). Returns the ids expired."""
    candidates = await database_sync_to_async(guests.idle_guests)()
    gone = []
    for user_id, username, room_ids in candidates:
        online = False
        for room_id in room_ids:
            await presence.store().prune(room_id)
            if username in await presence.store().online(room_id):
                online = True
                break
        if not online:
            gone.append(user_id)
    if gone:
        await database_sync_to_async(guests.expire)(user_ids=gone)
        log.info("expired idle guests %s", gone)
    return gone


async def _run_forever() -> None:
    while True:
        # Read each time round, so a changed setting applies from the next round.
        await asyncio.sleep(settings.CHAT_CLEANUP_INTERVAL)
        for job in (close_idle_rooms, expire_idle_guests):
            try:
                await job()
            except Exception:
                log.exception("%s failed; trying again at the next interval", job.__name__)


def ensure_background_loop() -> None:
    """Start the per-process loop once (called when a socket connects)."""
    global _loop_task
    if not settings.CHAT_CLEANUP_LOOP:
        return
    loop = asyncio.get_running_loop()
    if _loop_task is None or _loop_task.done() or _loop_task.get_loop() is not loop:
        _loop_task = loop.create_task(_run_forever())
