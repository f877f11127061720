"""`python -m chatclient export` against real daphne workers: a room's whole history,
streamed from GET /api/rooms/{id}/export into a JSON-lines file."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.db import connections

from bench.stack import free_port
from rooms import services
from rooms.models import Room

pytestmark = [pytest.mark.live, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

COUNT = 1050  # more than two of the endpoint's batches of 500


def _post_many(username: str, room_id: int, count: int) -> None:
    try:
        author = get_user_model().objects.get(username=username)
        room = Room.objects.get(pk=room_id)
        for n in range(1, count + 1):
            services.message_post(room=room, author=author, body=f"line {n}\nsecond ✓")
    finally:
        connections.close_all()


async def test_export_writes_a_rooms_whole_history_to_a_file_and_says_how_many(
    live_stack, make_people, make_room, start_client, tmp_path, settings
):
    settings.CHAT_SEND_BURST = 100_000  # the posts below are setup, not the limit
    (alice,) = await make_people("alice")
    room_id = await make_room("alice", "General")
    await sync_to_async(_post_many, thread_sensitive=False)("alice", room_id, COUNT)
    server = live_stack.urls[0]
    output = tmp_path / "history.jsonl"

    by_name = await start_client(
        server, alice.token, "export", "--room", "general", "--output", str(output)
    )
    assert await by_name.wait_exit(within=60) == 0, by_name.err
    assert by_name.out == [f"Wrote {COUNT} messages of General (room {room_id}) to {output}."]
    lines = output.read_text(encoding="utf-8").splitlines()
    messages = [json.loads(line) for line in lines]
    assert [m["seq"] for m in messages] == list(range(1, COUNT + 1))
    assert messages[0]["body"] == "line 1\nsecond ✓" and messages[-1]["author"] == "alice"
    assert not (tmp_path / "history.jsonl.part").exists()

    # By id, the subcommand first; the file is replaced, not appended to.
    again = await start_client(
        server, alice.token, "export", "--room", str(room_id), "-o", str(output)
    )
    assert await again.wait_exit(within=60) == 0, again.err
    assert len(output.read_text(encoding="utf-8").splitlines()) == COUNT


async def test_export_refusals_end_clearly_and_leave_no_file(
    live_stack, make_people, make_room, start_client, tmp_path
):
    alice, bob = await make_people("alice", "bob")
    await make_room("alice", "General")
    server = live_stack.urls[0]
    output = tmp_path / "out.jsonl"

    # bob sees the public room but is not a member: the server's sentence, exit 1.
    visitor = await start_client(
        server, bob.token, "export", "--room", "general", "--output", str(output)
    )
    assert await visitor.wait_exit() == 1
    assert visitor.err == ["! Only the room's members can export its history; join it first."]

    refused = await start_client(
        server, "cst_not-a-token", "export", "--room", "general", "-o", str(output)
    )
    assert await refused.wait_exit() == 2
    assert refused.err == ["! The server refused the token."]

    unknown = await start_client(
        server, alice.token, "export", "--room", "999999", "-o", str(output)
    )
    assert await unknown.wait_exit() == 1
    assert unknown.err == ["! No room '999999' among yours; --list shows them."]

    nowhere = await start_client(
        f"http://127.0.0.1:{free_port()}", alice.token, "export", "--room", "1", "-o", str(output)
    )
    assert await nowhere.wait_exit() == 1
    assert nowhere.err[0].startswith("! Cannot reach http://127.0.0.1:")
    assert not output.exists() and not (tmp_path / "out.jsonl.part").exists()
