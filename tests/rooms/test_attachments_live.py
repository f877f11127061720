"""Attachments through the socket and the line clients: a `send` frame with upload
ids is delivered to every socket with its files; a client that rejoins with
`changed_after` gets the message and then its deletion, once, in order; line clients
read "[file: name (size) url]"."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile

from chatclient.render import message_line
from rooms import attachments, moderation, services
from rooms.models import Message, Room
from rooms.realtime.gateway.client import object_line
from rooms.realtime.gateway.protocol import text_line
from tests.accounts.images import image_bytes
from tests.conftest import connect, join, nothing_more, receive_type

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def make_upload(room, user, data: bytes, name: str) -> str:
    return attachments.upload_create(
        room=room, uploader=user, upload=SimpleUploadedFile(name, data)
    ).pk


async def test_a_send_frame_with_files_reaches_every_socket_and_rejoins_sync_it(room, alice, bob):
    await database_sync_to_async(services.room_join)(room=room, user=bob)
    start = (await Room.objects.aget(pk=room.pk)).last_rev
    a, b = await connect(alice), await connect(bob)
    await join(a, room.id)
    await join(b, room.id)
    upload_id = await make_upload(room, alice, image_bytes("PNG", size=(90, 30)), "wide.png")
    await a.send_json_to(
        {"type": "send", "room": room.id, "body": "", "client_id": "f1", "attachments": [upload_id]}
    )
    for socket in (a, b):
        message = (await receive_type(socket, "message"))["message"]
        assert message["body"] == "" and message["attachments"][0]["id"] == upload_id
        assert message["attachments"][0]["thumbnail_url"].endswith("/thumbnail/")
    # Someone else's upload id, or the same one again: an error frame, the socket stays.
    await b.send_json_to(
        {
            "type": "send",
            "room": room.id,
            "body": "x",
            "client_id": "f2",
            "attachments": [upload_id],
        }
    )
    error = await receive_type(b, "error")
    assert error["code"] == "invalid" and error["ref"] == "f2"
    await b.disconnect()

    stored = await Message.objects.aget(room=room, client_id="f1")
    await database_sync_to_async(moderation.message_remove)(message=stored, by=alice)
    assert (await receive_type(a, "message_deleted"))["seq"] == stored.seq
    back = await connect(bob)
    rejoined = await join(back, room.id, changed_after=start)
    changed = [m for m in rejoined["messages"] if m["seq"] == stored.seq]
    assert len(changed) == 1 and changed[0]["deleted"] and changed[0]["attachments"] == []
    assert await nothing_more(back)
    await a.disconnect()
    await back.disconnect()


def test_line_clients_read_the_files_after_the_body():
    message = {
        "created_at": "2026-11-22T09:05:00+00:00",
        "author": "alice",
        "author_name": "Alice",
        "kind": "text",
        "body": "",
        "deleted": False,
        "attachments": [
            {
                "id": "t1",
                "name": "a.png",
                "size": 2048,
                "content_type": "image/png",
                "url": "/files/t1/",
            },
            {
                "id": "t2",
                "name": "b.txt",
                "size": 5,
                "content_type": "text/plain",
                "url": "/files/t2/",
            },
        ],
    }
    files = "[file: a.png (2 KB) /files/t1/] [file: b.txt (5 bytes) /files/t2/]"
    assert text_line(message) == f"[09:05] alice: {files}"
    assert text_line({**message, "body": "see"}) == f"[09:05] alice: see {files}"
    assert object_line(message) == f'{{"author": "Alice", "body": "{files}"}}'
    assert message_line({**message, "body": "see"}).endswith(f"alice: see {files}")
    assert text_line({**message, "deleted": True}) == "[09:05] alice: (message removed)"
