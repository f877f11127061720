"""Temporary rooms close by themselves when idle, and only then."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.core.management import call_command
from django.utils import timezone

from bench.stack import PROJECT_DIR
from rooms import services
from rooms.models import Message, Room
from rooms.realtime import cleanup
from tests.conftest import connect, join, receive_type

pytestmark = pytest.mark.django_db(transaction=True)


def _age(room, minutes):
    past = timezone.now() - timedelta(minutes=minutes)
    Room.objects.filter(pk=room.pk).update(created=past, last_message_at=past)


async def test_an_idle_temporary_room_closes_and_a_busy_one_does_not(alice):
    create = database_sync_to_async(services.room_create)
    idle = await create(creator=alice, name="Pop-up", temporary=True)
    busy = await create(creator=alice, name="Busy pop-up", temporary=True)
    permanent = await create(creator=alice, name="Lobby")
    for room in (idle, busy, permanent):
        await database_sync_to_async(_age)(room, 45)
    await database_sync_to_async(services.message_post)(room=busy, author=alice, body="still here")

    assert await cleanup.close_idle_rooms() == [idle.id]
    assert await cleanup.close_idle_rooms() == []  # idempotent
    states = {r.pk: r.is_archived for r in await database_sync_to_async(list)(Room.objects.all())}
    assert states == {idle.pk: True, busy.pk: False, permanent.pk: False}
    notice = await database_sync_to_async(Message.objects.get)(room=idle)
    assert notice.kind == "system" and "closed after 30 minutes" in notice.body


async def test_a_room_with_someone_connected_stays_open(alice):
    room = await database_sync_to_async(services.room_create)(
        creator=alice, name="Pop-up", temporary=True
    )
    await database_sync_to_async(_age)(room, 45)
    socket = await connect(alice)
    await join(socket, room.id)
    assert await cleanup.close_idle_rooms() == []
    await socket.send_json_to({"type": "leave", "room": room.id})
    await receive_type(socket, "left")
    await socket.disconnect()
    assert await cleanup.close_idle_rooms() == [room.id]


def test_the_management_command_closes_idle_rooms(alice, capsys):
    room = services.room_create(creator=alice, name="Pop-up", temporary=True)
    _age(room, 45)
    call_command("closeidlerooms")
    assert "Closed 1 idle" in capsys.readouterr().out
    room.refresh_from_db()
    assert room.is_archived


def test_closed_rooms_leave_the_list_and_refuse_posts(api_client, alice):
    created = api_client(alice).post("/api/rooms", {"name": "Pop-up", "temporary": True})
    assert created.status_code == 201 and created.json()["temporary"] is True
    room = Room.objects.get(pk=created.json()["id"])
    _age(room, 45)
    call_command("closeidlerooms")
    listed = [r["id"] for r in api_client(alice).get("/api/rooms").json()["rooms"]]
    assert room.id not in listed
    refused = api_client(alice).post(f"/api/rooms/{room.id}/messages", {"body": "hello?"})
    assert refused.status_code == 403


async def test_the_background_loop_runs_every_cleanup_interval(alice, settings):
    """The loop sleeps CHAT_CLEANUP_INTERVAL seconds between rounds, not a fixed minute:
    at a tenth of a second an idle temporary room closes within moments."""
    settings.CHAT_CLEANUP_LOOP = True
    settings.CHAT_CLEANUP_INTERVAL = 0.1
    room = await database_sync_to_async(services.room_create)(
        creator=alice, name="Pop-up", temporary=True
    )
    await database_sync_to_async(_age)(room, 45)
    cleanup.ensure_background_loop()
    task = cleanup._loop_task
    try:
        for _ in range(200):  # up to 10 s, far below the old fixed minute
            if (await database_sync_to_async(Room.objects.get)(pk=room.pk)).is_archived:
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the loop did not close the idle room")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.mark.parametrize("value", ["0", "-5", "soon", "nan"])
def test_a_cleanup_interval_that_is_not_a_positive_number_is_refused(value):
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=PROJECT_DIR,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "chatsite.settings",
            "CHAT_CLEANUP_INTERVAL": value,
        },
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "CHAT_CLEANUP_INTERVAL must be" in result.stderr
