"""chatsite.middleware: Django's session, common, auth and messages middleware with
their hooks in the event loop for async requests. What must still work: a session
that changes is saved (its hook goes to the sync thread), a flash message survives to
the next page, and the headers the other hooks set are there."""

from __future__ import annotations

import pytest
from django.test import AsyncClient

from rooms import services

pytestmark = pytest.mark.django_db(transaction=True)


async def test_an_async_login_saves_the_session_and_the_next_request_is_signed_in(alice):
    client = AsyncClient()
    response = await client.post(
        "/accounts/login/", {"username": "alice", "password": "correct-horse-42"}
    )
    assert response.status_code == 302
    assert client.cookies.get("sessionid") is not None
    page = await client.get("/")
    assert page.status_code == 200
    assert "alice" in page.content.decode()
    assert page["Vary"] and "Cookie" in page["Vary"]  # the session was read
    assert page["X-Frame-Options"] == "DENY"


async def test_a_flash_message_from_an_async_request_shows_on_the_next_page(alice, bob):
    from channels.db import database_sync_to_async

    room = await database_sync_to_async(services.room_create)(creator=alice, name="Den")
    client = AsyncClient()
    await client.aforce_login(bob)
    # bob may not change alice's room: the view flashes why and redirects.
    response = await client.post(f"/rooms/{room.id}/settings/", {"topic": "mine now"})
    assert response.status_code == 302
    page = (await client.get(response["Location"])).content.decode()
    assert "Only the room&#x27;s owner or moderators can change it." in page


async def test_common_middleware_still_redirects_to_the_slashed_path(alice):
    client = AsyncClient()
    await client.aforce_login(alice)
    response = await client.get("/mentions")
    assert response.status_code == 301 and response["Location"] == "/mentions/"


async def test_the_request_log_names_a_token_user_without_loading_a_session_user(alice, caplog):
    from channels.db import database_sync_to_async

    from tests.conftest import token_for

    token = await database_sync_to_async(token_for)(alice)
    bearer = {"Authorization": f"Bearer {token}"}
    client = AsyncClient()
    with caplog.at_level("INFO", logger="chatsite.request"):
        assert (await client.get("/api/rooms", headers=bearer)).status_code == 200
        assert (await client.get("/mentions")).status_code == 301  # no user looked up
    lines = [r.getMessage() for r in caplog.records if r.name == "chatsite.request"]
    assert "path=/api/rooms status=200" in lines[0] and lines[0].endswith(f"user={alice.pk}")
    assert "path=/mentions status=301" in lines[1] and lines[1].endswith("user=-")
