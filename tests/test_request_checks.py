"""chatsite.request_checks: bad input at the HTTP edge answers a 4xx with a sentence,
never a 500, and stores nothing. Examples here; tests/test_api_fuzz.py fuzzes every
JSON-body operation."""

from __future__ import annotations

import asyncio
import io
import json

import pytest
from django.core.handlers.asgi import ASGIRequest
from django.test import AsyncClient

from chatsite import request_checks
from rooms.models import Message
from tests.conftest import token_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def bearer(alice):
    return {"Authorization": f"Bearer {token_for(alice)}"}


def _refused(response, status=400) -> str:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    detail = response.json()["detail"]
    assert isinstance(detail, str) and detail.endswith(".")
    return detail


def _post(client, path, body, bearer, content_type="application/json"):
    return client.generic("POST", path, body, content_type=content_type, headers=bearer)


# --- query strings and paths ----------------------------------------------------------


def test_a_nul_in_a_query_value_is_a_400_not_a_database_error(client, bearer):
    detail = _refused(client.get("/api/users?q=%00", headers=bearer))
    assert detail == "Query parameter q contains a NUL character, which cannot be stored."


@pytest.mark.parametrize(
    "query",
    ["q=%ff", "q=%ed%a0%80", "q=ok&after=%c3"],  # not UTF-8; a lone surrogate's UTF-8
)
def test_a_query_value_that_is_not_utf8_is_a_400(client, bearer, query):
    detail = _refused(client.get(f"/api/users?{query}", headers=bearer))
    assert detail.startswith("Query parameter ") and "not valid UTF-8" in detail


def test_a_bad_query_parameter_name_is_refused_too(client, bearer):
    detail = _refused(client.get("/api/users?a%00b=1", headers=bearer))
    assert detail.startswith("A query parameter name contains a NUL character")


def test_too_many_query_parameters_is_a_400_with_a_detail(client, bearer, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    query = "&".join(f"p{i}=1" for i in range(11))
    assert "more than 10 parameters" in _refused(client.get(f"/api/users?{query}", headers=bearer))


def test_ordinary_queries_pass(client, bearer, alice):
    response = client.get("/api/users?q=ali&limit=%35", headers=bearer)
    assert response.status_code == 200
    assert [u["username"] for u in response.json()["users"]] == ["alice"]
    for query in ["q=caf%C3%A9", "q=a+b", "q=%F0%9F%91%8D", "q=&&limit=3", "flag"]:
        assert client.get(f"/api/users?{query}", headers=bearer).status_code == 200, query


def test_a_nul_in_the_path_is_a_400(client, bearer):
    response = client.delete("/api/blocks/a%00b", headers=bearer)
    assert _refused(response).startswith("The request path contains a NUL character")


def test_html_pages_refuse_a_nul_query_in_plain_text(client, alice):
    client.force_login(alice)
    response = client.get("/accounts/users/?q=%00")  # was a 500 (DataError) on PostgreSQL
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert "NUL character" in response.content.decode()
    assert client.get("/accounts/users/?q=ali").status_code == 200


# --- bodies ---------------------------------------------------------------------------


def test_a_body_holding_a_lone_surrogate_is_a_400(client, bearer, room):
    detail = _refused(_post(client, f"/api/rooms/{room.id}/messages", '"\\ud800"', bearer))
    assert detail == (
        "The request body was refused: value contains an unpaired surrogate, "
        "which cannot be stored."
    )
    body = '{"body": "hi \\udc00", "client_id": "c1"}'
    detail = _refused(_post(client, f"/api/rooms/{room.id}/messages", body, bearer))
    assert "body contains an unpaired surrogate" in detail
    assert Message.objects.count() == 0


def test_a_nul_in_a_body_is_a_400_and_nothing_is_stored(client, bearer, room):
    body = json.dumps({"body": "a\x00b", "client_id": "c1"})
    assert "body contains a NUL character" in _refused(
        _post(client, f"/api/rooms/{room.id}/messages", body, bearer)
    )
    detail = _refused(_post(client, "/api/token", '{"username": "a\\u0000", "password": "x"}', {}))
    assert "username contains a NUL character" in detail
    assert Message.objects.count() == 0


@pytest.mark.parametrize("opening, closing", [("[", "]"), ('{"a": ', "}")])
def test_a_2000_deep_body_is_a_400(client, bearer, room, opening, closing):
    body = opening * 2000 + "1" + closing * 2000
    detail = _refused(_post(client, f"/api/rooms/{room.id}/messages", body, bearer))
    assert detail == "The request body was refused: JSON is nested deeper than 32 levels."


def test_a_body_that_is_not_json_is_a_400(client, bearer, room):
    for body in ['{"body": "x"', b'{"body": "\xff"}', "body=x"]:
        detail = _refused(_post(client, f"/api/rooms/{room.id}/messages", body, bearer))
        assert detail == "The request body was refused: not valid JSON.", body
    # Python's json reads the UTF-8 form of a surrogate as one (surrogatepass).
    body = b'{"body": "\xed\xa0\x80"}'
    detail = _refused(_post(client, f"/api/rooms/{room.id}/messages", body, bearer))
    assert "body contains an unpaired surrogate" in detail
    assert Message.objects.count() == 0


def test_any_content_type_is_read_as_json_since_ninja_reads_it_so(client, bearer, room):
    body = '{"body": "a\\u0000", "client_id": "c1"}'
    for content_type in ["text/plain", "application/x-www-form-urlencoded", ""]:
        response = _post(client, f"/api/rooms/{room.id}/messages", body, bearer, content_type)
        assert "NUL character" in _refused(response), content_type


def test_form_data_that_is_not_json_passes_to_ninja(client, bearer, room):
    # The test client's empty POST is multipart: an operation without a body is fine...
    assert client.post("/api/tickets", headers=bearer).status_code == 201
    # ...and one with a body gets ninja's own 400.
    response = client.post(f"/api/rooms/{room.id}/messages", {"body": "hi"}, headers=bearer)
    assert response.status_code == 400 and isinstance(response.json()["detail"], str)


def test_a_body_over_the_upload_limit_is_a_413_with_a_detail(client, bearer, room, settings):
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    body = json.dumps({"body": "x" * limit, "client_id": "big"})
    detail = _refused(_post(client, f"/api/rooms/{room.id}/messages", body, bearer), 413)
    assert detail == f"The request body is larger than the limit of {limit} bytes."
    assert Message.objects.count() == 0


def test_a_body_without_content_length_over_the_limit_is_a_413(settings):
    """A chunked body has no Content-Length for Django to check before reading."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/rooms",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json")],
    }
    request = ASGIRequest(scope, io.BytesIO(b'{"name": "' + b"x" * 200 + b'"}'))
    assert request_checks.body_refusal(request).status_code == 413


def test_a_content_length_that_is_not_a_number_is_a_400(client, bearer):
    response = client.generic(
        "POST",
        "/api/rooms",
        '{"name": "x"}',
        content_type="application/json",
        headers=bearer,
        CONTENT_LENGTH="twelve",
    )
    assert _refused(response) == "The Content-Length header is not a number."


def test_good_bodies_pass_and_are_stored(client, bearer, room):
    body = json.dumps({"body": "héllo 👍", "client_id": "c1"})
    response = _post(client, f"/api/rooms/{room.id}/messages", body, bearer)
    assert response.status_code == 201 and response.json()["body"] == "héllo 👍"


# --- async requests -------------------------------------------------------------------


@pytest.fixture
def body_check_calls(monkeypatch):
    """Records, for each body check, whether it ran in the event loop."""
    calls = []
    real = request_checks.body_refusal

    def spy(request):
        try:
            asyncio.get_running_loop()
            calls.append("event loop")
        except RuntimeError:
            calls.append("thread")
        return real(request)

    monkeypatch.setattr(request_checks, "body_refusal", spy)
    return calls


@pytest.mark.django_db(transaction=True)
async def test_async_requests_are_checked_and_bodies_are_read_off_the_event_loop(
    alice, body_check_calls
):
    from channels.db import database_sync_to_async

    from rooms import services

    room = await database_sync_to_async(services.room_create)(creator=alice, name="Den")
    bearer = {"Authorization": f"Bearer {await database_sync_to_async(token_for)(alice)}"}
    client = AsyncClient()
    messages = f"/api/rooms/{room.id}/messages"

    response = await client.get(f"{messages}?after=%00&wait=0", headers=bearer)
    assert "Query parameter after contains a NUL" in _refused(response)
    assert (await client.get(f"{messages}?after=0&wait=0", headers=bearer)).status_code == 200
    assert body_check_calls == []  # a GET without a body never leaves the event loop

    response = await client.post(
        messages, '"\\ud800"', content_type="application/json", headers=bearer
    )
    assert "unpaired surrogate" in _refused(response)
    response = await client.post(
        messages,
        json.dumps({"body": "ok", "client_id": "c1"}),
        content_type="application/json",
        headers=bearer,
    )
    assert response.status_code == 201
    assert body_check_calls == ["thread", "thread"]
    assert await Message.objects.filter(room=room).acount() == 1


@pytest.mark.django_db(transaction=True)
async def test_an_async_body_over_the_limit_is_a_413(alice, settings):
    from channels.db import database_sync_to_async

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    bearer = {"Authorization": f"Bearer {await database_sync_to_async(token_for)(alice)}"}
    response = await AsyncClient().post(
        "/api/rooms",
        json.dumps({"name": "x" * 2000}),
        content_type="application/json",
        headers=bearer,
    )
    assert _refused(response, 413).startswith("The request body is larger than the limit")
