"""Property-based fuzz of the JSON API: every operation in /api/openapi.json, fed
arbitrary JSON bodies, path ids and query values, never answers a 5xx, and every
error is `{"detail": "<string>"}`."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import token_for
from tests.factories import RoomFactory, UserFactory

pytestmark = pytest.mark.django_db

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
FIELD_NAMES = st.sampled_from(
    [
        "body",
        "client_id",
        "name",
        "kind",
        "members",
        "username",
        "usernames",
        "password",
        "topic",
        "seq",
        "emoji",
        "on",
        "reason",
        "minutes",
        "moderator",
        "temporary",
    ]
)
BODIES = st.one_of(
    JSON_VALUES,
    st.dictionaries(FIELD_NAMES, JSON_VALUES, max_size=5),
    st.text(max_size=40).map(lambda t: {"__raw__": t}),
)
PATH_IDS = st.one_of(
    st.integers(min_value=-5, max_value=10**12), st.sampled_from(["x", "1.5", "-1"])
)
QUERY = st.dictionaries(
    st.sampled_from(["after", "before", "limit", "wait", "changed_after", "q", "offset"]),
    st.one_of(st.integers(min_value=-(10**15), max_value=10**15).map(str), st.text(max_size=10)),
    max_size=3,
)


@pytest.fixture
def operations(client):
    schema = client.get("/api/openapi.json").json()
    found = []
    for path, methods in schema["paths"].items():
        for method in methods:
            found.append((method.upper(), path))
    assert len(found) >= 20
    return found


@pytest.fixture
def headers(db):
    user = UserFactory(username="fuzzer")
    RoomFactory(creator=user)
    return {"Authorization": f"Bearer {token_for(user)}"}


def _fill(path: str, value) -> str:
    return re.sub(r"\{[^}]+\}", str(value), path)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_no_input_makes_the_api_answer_5xx(operations, headers, data, settings):
    settings.CHAT_LONG_POLL_MAX = 30
    method, template = data.draw(st.sampled_from(operations))
    path = _fill(template, data.draw(PATH_IDS))
    query = data.draw(QUERY)
    if "wait" in query:
        query["wait"] = "0"  # fuzz the parameters, not the clock
    body = data.draw(BODIES)
    raw = body["__raw__"] if isinstance(body, dict) and "__raw__" in body else json.dumps(body)
    client = Client()
    if method == "GET":
        response = client.get(path, query, headers=headers)
    else:
        qs = "&".join(f"{k}={v}" for k, v in query.items())
        response = client.generic(
            method,
            f"{path}?{qs}" if qs else path,
            raw,
            content_type="application/json",
            headers=headers,
        )
    assert response.status_code < 500, (method, path, raw, response.content[:300])
    if response.status_code >= 400 and response["Content-Type"].startswith("application/json"):
        assert isinstance(response.json()["detail"], str), response.content
