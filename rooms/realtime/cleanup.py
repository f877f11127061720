"""Closing idle temporary rooms: the management command `closeidlerooms` runs it once,
and every server process runs it every CHAT_CLEANUP_INTERVAL seconds (60) in the
background."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone

from rooms import selectors, services
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


async def _run_forever() -> None:
    while True:
        # Read each time round, so a changed setting applies from the next round.
        await asyncio.sleep(settings.CHAT_CLEANUP_INTERVAL)
        try:
            await close_idle_rooms()
        except Exception:
            log.exception("closing idle rooms failed; trying again at the next interval")


def ensure_background_loop() -> None:
    """Start the per-process loop once (called when a socket connects)."""
    global _loop_task
    if not settings.CHAT_CLEANUP_LOOP:
        return
    loop = asyncio.get_running_loop()
    if _loop_task is None or _loop_task.done() or _loop_task.get_loop() is not loop:
        _loop_task = loop.create_task(_run_forever())
