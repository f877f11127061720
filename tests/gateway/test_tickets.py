"""The gateway's first line may carry a ticket (POST /api/tickets) instead of a token:
redeemed as the WebSocket redeems it, used once, and the connection dies with the
token that made it. In process, on the in-memory layer."""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async

from accounts import services as account_services
from rooms.realtime.gateway import Gateway
from rooms.realtime.gateway.protocol import FirstLineError, parse_first_line

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def gateway():
    gateway = Gateway()
    _, port = await gateway.start("127.0.0.1", 0)
    gateway.test_port = port
    yield gateway
    await gateway.stop()


def make_ticket(user):
    """(token id, ticket) where the ticket was made with that token, as by the API."""
    token, _ = account_services.token_create(user=user, name="ticket maker")
    ticket, _ = account_services.ticket_create(user=user, credential=f"token:{token.pk}")
    return token.pk, ticket


async def connect(port: int, first: dict):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(json.dumps(first).encode() + b"\n")
    await writer.drain()
    return reader, writer


async def read_line(reader: asyncio.StreamReader) -> str:
    while True:
        async with asyncio.timeout(10):
            line = (await reader.readline()).decode()
        if not line.startswith('{"type": "presence"'):
            return line.rstrip("\n")


def test_the_first_line_takes_a_ticket_instead_of_a_token():
    fields = parse_first_line(b'{"ticket": "abc", "room": "general"}')
    assert (fields["ticket"], fields["token"], fields["room"]) == ("abc", None, "general")
    with pytest.raises(FirstLineError, match="Give one of"):
        parse_first_line(b'{"ticket": "abc", "token": "cst_x", "room": 1}')
    with pytest.raises(FirstLineError, match='"ticket" must be'):
        parse_first_line(b'{"ticket": 5, "room": 1}')
    with pytest.raises(FirstLineError, match=r'"ticket" from POST /api/tickets'):
        parse_first_line(b'{"room": 1}')


async def test_a_ticket_joins_once_and_a_reused_ticket_is_refused_with_one_line(
    gateway, alice, room
):
    _, ticket = await sync_to_async(make_ticket)(alice)
    reader, writer = await connect(gateway.test_port, {"ticket": ticket, "room": "general"})
    try:
        expected = f"* alice joined General (room {room.pk}); online: alice"
        assert await read_line(reader) == expected
        writer.write(b"hello by ticket\n")
        await writer.drain()
        assert (await read_line(reader)).endswith("] alice: hello by ticket")
    finally:
        writer.close()

    again_reader, again = await connect(gateway.test_port, {"ticket": ticket, "room": room.pk})
    try:
        async with asyncio.timeout(10):
            rest = await again_reader.read()
        assert rest.decode().splitlines() == [
            "! That ticket is not valid (each is used once and lasts seconds)."
        ]
    finally:
        again.close()


async def test_revoking_the_token_that_made_the_ticket_ends_the_connection(gateway, alice, room):
    token_id, ticket = await sync_to_async(make_ticket)(alice)
    reader, writer = await connect(
        gateway.test_port, {"ticket": ticket, "room": room.pk, "json": True}
    )
    try:
        joined = json.loads(await read_line(reader))
        assert joined["type"] == "joined" and joined["user"] == "alice"
        assert await sync_to_async(account_services.token_revoke)(user=alice, token_id=token_id)
        async with asyncio.timeout(10):
            rest = await reader.read()  # whatever goodbye it says, then the end
        assert all(json.loads(line)["type"] in ("error", "presence") for line in rest.splitlines())
    finally:
        writer.close()
