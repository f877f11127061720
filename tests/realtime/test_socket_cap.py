"""The per-user connection cap holds under a burst: the count and the claim are one
step (one Redis script), so 150 sockets opened at once for one user get exactly the
cap, on real Redis and in memory; closing one frees its slot."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from chatsite.asgi import application
from rooms.realtime import presence
from tests.conftest import token_for

pytestmark = pytest.mark.django_db(transaction=True)


async def _open(token):
    communicator = WebsocketCommunicator(
        application, "/ws/chat/", headers=[(b"authorization", f"Bearer {token}".encode())]
    )
    await communicator.connect(timeout=60)  # many at once on a busy machine: be patient
    await communicator.send_json_to({"type": "ping"})
    while True:
        output = await communicator.receive_output(timeout=60)
        if output["type"] == "websocket.close":
            return communicator, output["code"]
        if '"pong"' in output.get("text", ""):
            return communicator, None


async def test_a_burst_of_sockets_gets_exactly_the_cap(layer, settings, alice):
    settings.CHAT_SOCKETS_PER_USER = 20
    token = await database_sync_to_async(token_for)(alice)
    results = await asyncio.gather(*(_open(token) for _ in range(80)))
    accepted = [c for c, code in results if code is None]
    refused = [code for _, code in results if code is not None]
    assert len(accepted) == 20
    assert refused == [4429] * 60
    assert await presence.store().sockets_of(presence.SITE, alice.pk) == 20
    await accepted[0].disconnect()
    again, code = await _open(token)
    assert code is None  # the freed slot is taken again
    for communicator in [*accepted[1:], again]:
        await communicator.disconnect()
