"""The compose topology without Docker: nginx in front of two daphne workers on one
Redis layer. HTTP and WebSocket upgrades go through nginx, balanced over both."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request

import pytest

from bench.stack import Stack, nginx_binary
from tests.conftest import need
from tests.live.conftest import database_url_for_workers, log_problems

pytestmark = [pytest.mark.live, pytest.mark.redis]


@pytest.fixture
def nginx_stack(transactional_db, redis_url, channel_prefix, tmp_path):
    if nginx_binary() is None:
        need("Debian's nginx is not installed (apt-get install nginx)")
    stack = Stack(
        2,
        database_url=database_url_for_workers(),
        redis_url=redis_url,
        env={"CHANNEL_PREFIX": channel_prefix},
        log_dir=tmp_path / "logs",
        nginx=True,
    )
    with stack:
        yield stack


async def test_http_and_sockets_through_nginx_reach_every_worker(
    nginx_stack, make_people, make_room, open_socket
):
    alice, bob = await make_people("alice", "bob")
    room_id = await make_room("alice")

    def health() -> dict:
        with urllib.request.urlopen(nginx_stack.front_url + "/healthz", timeout=5) as response:
            return json.loads(response.read())

    assert (await asyncio.to_thread(health))["redis"] == "ok"

    # Round robin: of four sockets through nginx, two land on each worker; they all
    # share the room through Redis.
    sockets = [await open_socket(nginx_stack.front_ws_url, p) for p in [alice, bob, alice, bob]]
    for socket in sockets:
        await socket.join(room_id)
    await sockets[0].send(
        {"type": "send", "room": room_id, "body": "through nginx", "client_id": "n1"}
    )
    for socket in sockets:
        await socket.wait_for(
            lambda s=socket: [
                f
                for f in s.frames
                if f.get("type") == "message" and f["message"]["body"] == "through nginx"
            ],
            what="the message through nginx",
        )
    # Both workers served sockets: each logged an open.
    opened = [path.read_text().count("socket id=") for path in nginx_stack.log_paths]
    assert all(count > 0 for count in opened), opened
    assert log_problems(nginx_stack) == []


@pytest.fixture
def files_stack(transactional_db, redis_url, channel_prefix, tmp_path):
    """One worker behind nginx with CHAT_FILES_ACCEL_REDIRECT, as docker-compose.yml
    runs them: the view checks, nginx sends the bytes from its internal location."""
    if nginx_binary() is None:
        need("Debian's nginx is not installed (apt-get install nginx)")
    stack = Stack(
        1,
        database_url=database_url_for_workers(),
        redis_url=redis_url,
        env={"CHANNEL_PREFIX": channel_prefix, "CHAT_FILES_ACCEL_REDIRECT": "/_protected_files/"},
        log_dir=tmp_path / "logs",
        nginx=True,
    )
    with stack:
        yield stack


def _request(url: str, token: str, data: bytes | None = None, content_type: str = ""):
    """(status, headers, body) of one request; errors are answers too."""
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    request.add_header("Authorization", f"Bearer {token}")
    if content_type:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def _multipart(fields: dict[str, str], files: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = "----chat-live-test-boundary"
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    for filename, content in files:
        parts.append(
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                f'filename="{filename}"\r\nContent-Type: image/png\r\n\r\n'
            ).encode()
            + content
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def test_files_go_out_through_nginx_internal_location_and_outsiders_get_404(files_stack):
    from accounts import services as account_services
    from rooms import services as room_services
    from rooms.models import Room
    from tests.accounts.images import image_bytes
    from tests.factories import UserFactory

    alice, bob, carol, mallory = (
        UserFactory(username=n) for n in ("alice", "bob", "carol", "mallory")
    )
    tokens = {
        u.username: account_services.token_create(user=u, name="live")[1]
        for u in (alice, bob, mallory)
    }
    room = room_services.room_create(
        creator=alice, name="Trio", kind=Room.Kind.CONFERENCE, members=["bob", "carol"]
    )
    front = files_stack.front_url
    picture = image_bytes("PNG", size=(64, 48))
    page = b"<!doctype html><html><script>alert(1)</script></html>"
    body, content_type = _multipart(
        {"body": "two files", "client_id": "live-1"}, [("pic.png", picture), ("page.png", page)]
    )
    status, _, answer = _request(
        f"{front}/api/rooms/{room.id}/messages/files", tokens["alice"], body, content_type
    )
    assert status == 201, answer
    image, html = json.loads(answer)["attachments"]

    status, headers, content = _request(front + image["url"], tokens["bob"])
    assert status == 200 and content == picture  # the stored bytes, sent by nginx
    assert headers["Content-Type"] == "image/png"
    assert headers["Content-Disposition"].startswith("inline")
    assert headers["X-Content-Type-Options"] == "nosniff"
    status, headers, content = _request(front + image["thumbnail_url"], tokens["bob"])
    assert status == 200 and content.startswith(b"\x89PNG")

    status, headers, content = _request(front + html["url"], tokens["bob"])
    assert status == 200 and content == page
    assert headers.get_all("Content-Disposition") == ['attachment; filename="page.png"']
    assert headers.get_all("X-Content-Type-Options") == ["nosniff"]
    assert "sandbox" in headers["Content-Security-Policy"]

    # An outsider: 404 for the file and the thumbnail, and the internal location
    # itself cannot be reached from outside, whoever asks.
    stored = f"attachments/{room.id}/{image['id']}"
    for path in (image["url"], image["thumbnail_url"], html["url"]):
        assert _request(front + path, tokens["mallory"])[0] == 404, path
    for token in (tokens["mallory"], tokens["bob"]):
        assert _request(f"{front}/_protected_files/{stored}", token)[0] == 404
    assert log_problems(files_stack) == []
