"""A revoked credential ends every connection it opened: revoking a token closes its
sockets (also those opened with a ticket it made), its gateway lines and its long
polls in flight; a log-out does the same for the session's; a ticket dies with what
made it; deactivating a user ends their long polls too."""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import ThreadSensitiveContext
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import AsyncClient

from accounts import services as account_services
from chatsite.asgi import application
from rooms import moderation
from rooms.realtime import hub
from rooms.realtime.gateway import Gateway
from tests.conftest import join, receive_type

pytestmark = pytest.mark.django_db(transaction=True)


def _token(user):
    token, secret = account_services.token_create(user=user, name="t")
    return token.pk, secret


async def _socket(headers=(), path="/ws/chat/"):
    communicator = WebsocketCommunicator(application, path, headers=list(headers))
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def _closed_with(communicator, code, timeout=3):
    while True:
        output = await communicator.receive_output(timeout=timeout)
        if output["type"] == "websocket.close":
            return output["code"] == code


async def test_revoking_a_token_closes_its_socket(room, alice):
    token_id, secret = await database_sync_to_async(_token)(alice)
    socket = await _socket([(b"authorization", f"Bearer {secret}".encode())])
    await join(socket, room.id)
    await database_sync_to_async(account_services.token_revoke)(user=alice, token_id=token_id)
    assert await _closed_with(socket, 4401)


async def test_a_socket_opened_with_a_ticket_dies_with_the_token_that_made_it(room, alice, bob):
    token_id, secret = await database_sync_to_async(_token)(alice)
    other_id, other_secret = await database_sync_to_async(_token)(alice)
    ticket, _ = await database_sync_to_async(account_services.ticket_create)(
        user=alice, credential=f"token:{token_id}"
    )
    socket = await _socket(path=f"/ws/chat/?ticket={ticket}")
    await join(socket, room.id)
    bystander = await _socket([(b"authorization", f"Bearer {other_secret}".encode())])
    await join(bystander, room.id)
    await database_sync_to_async(account_services.token_revoke)(user=alice, token_id=token_id)
    assert await _closed_with(socket, 4401)
    # Another token of the same user keeps its socket.
    await bystander.send_json_to({"type": "ping"})
    assert (await receive_type(bystander, "pong"))["type"] == "pong"
    await bystander.disconnect()


async def test_a_ticket_is_refused_once_what_made_it_is_gone(alice):
    token_id, _ = await database_sync_to_async(_token)(alice)
    ticket, _ = await database_sync_to_async(account_services.ticket_create)(
        user=alice, credential=f"token:{token_id}"
    )
    await database_sync_to_async(account_services.token_revoke)(user=alice, token_id=token_id)
    socket = await _socket(path=f"/ws/chat/?ticket={ticket}")
    assert await _closed_with(socket, 4401)
    session_ticket, _ = await database_sync_to_async(account_services.ticket_create)(
        user=alice, credential="session:nosuchsessionkey00000000000000"
    )
    socket = await _socket(path=f"/ws/chat/?ticket={session_ticket}")
    assert await _closed_with(socket, 4401)


def test_a_ticket_made_by_a_browser_session_dies_with_the_log_out(client, alice):
    client.force_login(alice)
    response = client.post("/api/tickets", headers={"X-CSRFToken": "x"})
    if response.status_code == 403:  # the API wants the CSRF token of the page
        client.get("/")
        response = client.post(
            "/api/tickets", headers={"X-CSRFToken": client.cookies["csrftoken"].value}
        )
    assert response.status_code == 201
    ticket = response.json()["ticket"]
    client.post("/accounts/logout/")

    async def open_it():
        socket = await _socket(path=f"/ws/chat/?ticket={ticket}")
        return await _closed_with(socket, 4401)

    from asgiref.sync import async_to_sync

    assert async_to_sync(open_it)()


async def test_revoking_a_token_ends_its_gateway_line(room, alice):
    token_id, secret = await database_sync_to_async(_token)(alice)
    gateway = Gateway()
    _, port = await gateway.start("127.0.0.1", 0)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(json.dumps({"token": secret, "room": room.id, "json": True}).encode() + b"\n")
        joined = json.loads(await asyncio.wait_for(reader.readline(), 5))
        assert joined["type"] == "joined"
        await database_sync_to_async(account_services.token_revoke)(user=alice, token_id=token_id)
        lines = []
        async with asyncio.timeout(5):
            while line := await reader.readline():
                lines.append(json.loads(line))
        errors = [f for f in lines if f["type"] == "error"]
        assert errors and errors[-1]["code"] == "unauthorized"
    finally:
        writer.close()
        await gateway.stop()


async def _poll(secret, room_id, wait=10):
    async with ThreadSensitiveContext():
        return await AsyncClient().get(
            f"/api/rooms/{room_id}/messages",
            {"after": 0, "wait": wait},
            headers={"Authorization": f"Bearer {secret}"},
        )


async def _until_waiting(polls: int = 1) -> None:
    """Until that many polls are waiting in this loop's hub (authenticated, subscribed,
    read): a fixed sleep was not always enough on a busy machine."""
    async with asyncio.timeout(10):
        while hub.waiting() < polls:  # noqa: ASYNC110 - the request's task changes it
            await asyncio.sleep(0.01)


async def test_revoking_a_token_answers_its_long_poll_in_flight(room, alice):
    token_id, secret = await database_sync_to_async(_token)(alice)
    poll = asyncio.create_task(_poll(secret, room.id))
    await _until_waiting()
    assert not poll.done()
    await database_sync_to_async(account_services.token_revoke)(user=alice, token_id=token_id)
    response = await asyncio.wait_for(poll, 5)
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


async def test_deactivating_a_user_answers_their_long_poll(room, alice, bob):
    _, secret = await database_sync_to_async(_token)(alice)

    def make_staff():
        bob.is_staff = True
        bob.save(update_fields=["is_staff"])
        return bob

    staff = await database_sync_to_async(make_staff)()
    poll = asyncio.create_task(_poll(secret, room.id))
    await _until_waiting()
    await database_sync_to_async(moderation.user_deactivate)(user=alice, by=staff, reason="x")
    response = await asyncio.wait_for(poll, 5)
    assert response.status_code == 401
