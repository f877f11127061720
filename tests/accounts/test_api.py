"""Accounts over the JSON API: tokens, tickets, the current user, user search."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from accounts.models import ApiToken, WebSocketTicket
from chatsite.asgi import application
from tests.conftest import PASSWORD, nothing_more, token_for
from tests.factories import UserFactory


def assert_error(response, status: int) -> dict:
    assert response.status_code == status, response.content
    data = response.json()
    assert isinstance(data["detail"], str)
    assert data["detail"]
    return data


def token_request(client, username, password, **extra):
    return client.post(
        "/api/token",
        {"username": username, "password": password},
        content_type="application/json",
        **extra,
    )


# --- POST /api/token ------------------------------------------------------------------


def test_the_right_password_gets_a_token_that_works_as_bearer(client, alice):
    response = token_request(client, "alice", PASSWORD)
    assert response.status_code == 200
    token = response.json()["token"]
    assert isinstance(token, str) and token
    me = client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["username"] == "alice"


def test_each_token_request_gets_a_new_token(client, alice):
    first = token_request(client, "alice", PASSWORD).json()["token"]
    second = token_request(client, "alice", PASSWORD).json()["token"]
    assert first != second
    assert ApiToken.objects.filter(user=alice).count() == 2


def test_a_token_is_stored_hashed(client, alice):
    token = token_request(client, "alice", PASSWORD).json()["token"]
    stored = ApiToken.objects.get(user=alice)
    assert token not in (stored.key_hash, stored.prefix)
    assert token.startswith(stored.prefix)


def test_a_token_needs_no_csrf_token(alice):
    client = Client(enforce_csrf_checks=True)
    assert token_request(client, "alice", PASSWORD).status_code == 200


@pytest.mark.parametrize(
    ("username", "password"),
    [("alice", "wrong"), ("nobody", PASSWORD), ("alice", ""), ("ALICE ", PASSWORD)],
)
def test_bad_credentials_answer_401(client, alice, username, password):
    assert_error(token_request(client, username, password), 401)
    assert ApiToken.objects.count() == 0


def test_an_inactive_user_gets_no_token(client, alice):
    alice.is_active = False
    alice.save()
    assert_error(token_request(client, "alice", PASSWORD), 401)


@pytest.mark.parametrize(
    "body",
    [b"{}", b'{"username": "alice"}', b'{"username": 1, "password": 2}', b"{oops", b"[]"],
)
def test_a_malformed_token_request_is_a_400(client, alice, body):
    response = client.post("/api/token", body, content_type="application/json")
    assert_error(response, 400)
    assert ApiToken.objects.count() == 0


def test_token_requests_are_throttled_after_repeated_failures(client, alice, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    for _ in range(3):
        assert_error(token_request(client, "alice", "wrong"), 401)
    response = token_request(client, "alice", PASSWORD)
    assert_error(response, 429)
    assert int(response["Retry-After"]) >= 1
    assert ApiToken.objects.count() == 0


def test_failures_from_one_address_do_not_lock_the_user_out_from_another(client, alice, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    for _ in range(3):
        token_request(client, "alice", "wrong", REMOTE_ADDR="10.0.0.1")
    response = token_request(client, "alice", PASSWORD, REMOTE_ADDR="10.0.0.1")
    assert_error(response, 429)
    assert "Retry-After" in response
    assert token_request(client, "alice", PASSWORD, REMOTE_ADDR="10.0.0.99").status_code == 200


def test_throttling_follows_the_address_across_usernames(client, alice, bob, settings):
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 3
    for name in ("carol", "dave", "erin"):
        token_request(client, name, "wrong", REMOTE_ADDR="10.0.0.7")
    assert_error(token_request(client, "bob", PASSWORD, REMOTE_ADDR="10.0.0.7"), 429)
    # Another address is unaffected.
    assert token_request(client, "bob", PASSWORD, REMOTE_ADDR="10.0.0.8").status_code == 200


def test_fewer_failures_than_the_limit_do_not_throttle(client, alice, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    for _ in range(2):
        token_request(client, "alice", "wrong")
    assert token_request(client, "alice", PASSWORD).status_code == 200


def test_token_creation_is_rate_limited(client, alice, settings):
    settings.CHAT_TOKEN_CREATE_LIMIT = 2
    for _ in range(2):
        assert token_request(client, "alice", PASSWORD).status_code == 200
    response = token_request(client, "alice", PASSWORD)
    assert_error(response, 429)
    assert int(response["Retry-After"]) >= 1
    assert ApiToken.objects.count() == 2


# --- POST /api/tickets ---------------------------------------------------------------------


def test_a_ticket_is_issued(api_client, alice):
    response = api_client(alice).post("/api/tickets")
    assert response.status_code == 201
    data = response.json()
    assert isinstance(data["ticket"], str) and data["ticket"]
    assert isinstance(data["expires_in"], int) and data["expires_in"] > 0
    assert WebSocketTicket.objects.filter(user=alice).count() == 1


def test_a_ticket_needs_authentication(client, db):
    assert_error(client.post("/api/tickets"), 401)
    assert WebSocketTicket.objects.count() == 0


def test_a_session_may_get_a_ticket_only_with_its_csrf_token(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert_error(client.post("/api/tickets"), 403)
    client.get("/")
    response = client.post(
        "/api/tickets", headers={"X-CSRFToken": client.cookies["csrftoken"].value}
    )
    assert response.status_code == 201


def test_ticket_creation_is_rate_limited(api_client, alice, settings):
    settings.CHAT_TICKET_CREATE_LIMIT = 2
    api = api_client(alice)
    for _ in range(2):
        assert api.post("/api/tickets").status_code == 201
    response = api.post("/api/tickets")
    assert_error(response, 429)
    assert int(response["Retry-After"]) >= 1


@pytest.mark.django_db(transaction=True)
async def test_a_ticket_opens_one_socket_once(alice):
    from accounts import services

    ticket, _ = await database_sync_to_async(services.ticket_create)(user=alice)
    first = WebsocketCommunicator(application, f"/ws/chat/?ticket={ticket}")
    assert (await first.connect())[0]
    assert await nothing_more(first, timeout=0.2)  # open, not closed with 4401
    await first.disconnect()

    second = WebsocketCommunicator(application, f"/ws/chat/?ticket={ticket}")
    await second.connect()
    assert (await second.receive_output(timeout=2)) == {"type": "websocket.close", "code": 4401}


# --- GET /api/me ------------------------------------------------------------------------------


def test_me_answers_the_current_user(api_client, alice):
    response = api_client(alice).get("/api/me")
    assert response.status_code == 200
    assert response.json()["username"] == "alice"
    assert response.json()["display_name"] == "Alice"


def test_me_works_with_the_session(client, bob):
    client.force_login(bob)
    assert client.get("/api/me").json()["username"] == "bob"


def test_me_needs_authentication(client, db):
    assert_error(client.get("/api/me"), 401)


# --- GET /api/users ----------------------------------------------------------------------------


@pytest.fixture
def people(alice, bob, carol):
    UserFactory(username="zed", display_name="Alfred Zed")
    UserFactory(username="gone", display_name="Alice Gone", is_active=False)


def _names(api, **params):
    response = api.get("/api/users", **params)
    assert response.status_code == 200, response.content
    users = response.json()["users"]
    for user in users:
        assert set(user) >= {"username", "display_name"}
        assert isinstance(user["username"], str)
        assert isinstance(user["display_name"], str)
    return [u["username"] for u in users]


def test_user_search_matches_usernames(api_client, alice, people):
    assert _names(api_client(alice), q="car") == ["carol"]


def test_user_search_matches_display_names_case_insensitively(api_client, alice, people):
    assert _names(api_client(alice), q="ALF") == ["zed"]
    assert _names(api_client(alice), q="al") == ["alice", "zed"]


def test_user_search_answers_display_names(api_client, alice, people):
    users = api_client(alice).get("/api/users", q="zed").json()["users"]
    assert users[0] == {**users[0], "username": "zed", "display_name": "Alfred Zed"}


def test_user_search_leaves_out_inactive_users(api_client, alice, people):
    assert "gone" not in _names(api_client(alice), q="gone")
    assert "gone" not in _names(api_client(alice))


def test_user_search_without_a_query_lists_everyone(api_client, alice, people):
    assert _names(api_client(alice)) == ["alice", "bob", "carol", "zed"]


def test_user_search_finds_nothing_for_a_stranger(api_client, alice, people):
    assert _names(api_client(alice), q="nobody-like-this") == []


def test_user_search_treats_wildcards_as_text(api_client, alice, people):
    assert _names(api_client(alice), q="%") == []
    assert _names(api_client(alice), q="_") == []


def test_user_search_needs_authentication(client, db):
    assert_error(client.get("/api/users", {"q": "a"}), 401)


@pytest.mark.parametrize(
    "params", [{"limit": "x"}, {"offset": "y"}, {"limit": "99999999999999999999999999"}]
)
def test_user_search_never_answers_500_for_bad_paging(client, alice, params):
    response = client.get(
        "/api/users", params, headers={"Authorization": f"Bearer {token_for(alice)}"}
    )
    assert 400 <= response.status_code < 500 or response.status_code == 200
    if response.status_code != 200:
        assert isinstance(response.json()["detail"], str)


def test_user_search_with_a_huge_offset_is_not_a_500(client, alice):
    response = client.get(
        "/api/users",
        {"offset": "99999999999999999999999999"},
        headers={"Authorization": f"Bearer {token_for(alice)}"},
    )
    assert_error(response, 400)
