"""Property-based fuzz of the JSON API: every operation in /api/openapi.json, fed
arbitrary JSON bodies, path ids and query values, never answers a 5xx, and every
error is `{"detail": "<string>"}`. Then every operation that reads a JSON body, fed
hostile ones (NUL, lone surrogates, nesting to 2,000 levels, wrong types, huge
strings): refused at the edge with a reason, and nothing stored."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.conftest import token_for
from tests.factories import RoomFactory, UserFactory
from tests.strategies import json_values

pytestmark = pytest.mark.django_db

JSON_VALUES = json_values(text_size=50, key_size=12, max_leaves=12)
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
        "attachments",
        "reply_to",
        "thread_only",
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


@pytest.fixture
def clients():
    """One sync and one async test client for all examples: each loads the middleware
    once (WhiteNoise scans the static files then), not once per example."""
    from django.test import AsyncClient

    return {False: Client(), True: AsyncClient()}


def _fill(path: str, value) -> str:
    return re.sub(r"\{[^}]+\}", str(value), path)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_no_input_makes_the_api_answer_5xx(operations, headers, clients, data, settings):
    settings.CHAT_LONG_POLL_MAX = 30
    method, template = data.draw(st.sampled_from(operations))
    path = _fill(template, data.draw(PATH_IDS))
    query = data.draw(QUERY)
    if "wait" in query:
        query["wait"] = "0"  # fuzz the parameters, not the clock
    body = data.draw(BODIES)
    raw = body["__raw__"] if isinstance(body, dict) and "__raw__" in body else json.dumps(body)
    client = clients[False]
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


# --- Hostile JSON bodies: every operation that reads one --------------------------------
#
# Each example sends one body to one JSON-body operation (listed from the OpenAPI
# schema, so a new one is fuzzed without being named here), through the sync or the
# async test client, and checks: never a 5xx; a 4xx is {"detail": "<string>"}; a body
# rooms.input_checks refuses is refused at the edge (400, or 413 when too big); and a
# refused request changed no stored row. Each example runs in a savepoint rolled back
# at its end, so examples do not see each other's rooms, messages or bans.

BODY_LIMIT = 60_000  # DATA_UPLOAD_MAX_MEMORY_SIZE here: "too big" without megabytes
VOLATILE_FIELDS = {"last_used", "last_login"}  # touched by authentication itself
CONTRACT_BODY_OPERATIONS = {
    ("POST", "/api/token"),
    ("POST", "/api/rooms"),
    ("POST", "/api/direct"),
    ("POST", "/api/rooms/{room_id}/invite"),
    ("POST", "/api/rooms/{room_id}/messages"),
    ("PATCH", "/api/messages/{message_id}"),
    ("PATCH", "/api/rooms/{room_id}"),
    ("POST", "/api/blocks"),
    ("POST", "/api/rooms/{room_id}/mute"),
    ("POST", "/api/messages/{message_id}/report"),
}


class Raw(str):
    """JSON text sent as is: nesting too deep for json.dumps, or a placeholder."""


BAD_UTF8 = Raw("@@bad-utf8@@")  # becomes a string holding "\ud800" encoded as UTF-8


def _json_text(value) -> str:
    """json.dumps that keeps Raw parts. ensure_ascii (the default) sends a lone
    surrogate as the escape "\\ud800", which is how a client can send one."""
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, dict):
        items = (f"{json.dumps(k)}: {_json_text(v)}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_json_text(v) for v in value) + "]"
    return json.dumps(value)


def _nested(depth: int, kind: str) -> Raw:
    if kind == "list":
        return Raw("[" * depth + '"x"' + "]" * depth)
    return Raw('{"a": ' * depth + '"x"' + "}" * depth)


UNSTORABLE = st.one_of(st.just("\x00"), st.integers(0xD800, 0xDFFF).map(chr))
PLAIN_TEXT = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["fuzzer", "victim", "correct-horse-42", "hello", "👍", "spam"]),
)
HOSTILE_TEXT = st.one_of(
    PLAIN_TEXT,
    st.tuples(st.text(max_size=8), UNSTORABLE, st.text(max_size=8)).map("".join),
    st.sampled_from(["", "  ", "x" * 81, "x" * 251, "x" * 4_001]),
    st.integers(min_value=5_000, max_value=2 * BODY_LIMIT).map(lambda n: "y" * n),
)
DEEP = st.builds(
    _nested, st.integers(min_value=1, max_value=2_000), st.sampled_from(["list", "dict"])
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),  # NaN and Infinity too: Python's json reads them
    HOSTILE_TEXT,
    DEEP,
    st.just(BAD_UTF8),
)
HOSTILE_VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(HOSTILE_TEXT, children, max_size=3)
    ),
    max_leaves=6,
)
TYPED = {
    "string": PLAIN_TEXT | HOSTILE_TEXT,
    "integer": st.integers(min_value=-(2**70), max_value=2**70),
    "boolean": st.booleans(),
    "array": st.lists(HOSTILE_TEXT, max_size=4),
    "null": st.none(),
}
PLAUSIBLE = {
    "string": PLAIN_TEXT,
    "integer": st.integers(min_value=-1, max_value=5),
    "boolean": st.booleans(),
    "array": st.lists(PLAIN_TEXT, max_size=3),
    "null": st.none(),
}


def _property_values(spec: dict, *, plausible: bool = False):
    """A value of the declared type (plausible, or most of the time) or anything."""
    kinds = [s.get("type") for s in spec.get("anyOf", [spec])]
    typed = [(PLAUSIBLE if plausible else TYPED)[k] for k in kinds if k in TYPED]
    if plausible:
        return st.one_of(*typed) if typed else PLAIN_TEXT
    return st.one_of(*typed, *typed, HOSTILE_VALUES) if typed else HOSTILE_VALUES


def _bodies(schema: dict, *, plausible: bool = False):
    properties, required = schema.get("properties", {}), schema.get("required", [])
    return st.fixed_dictionaries(
        {name: _property_values(properties[name], plausible=plausible) for name in required},
        optional={
            name: _property_values(spec, plausible=plausible)
            for name, spec in properties.items()
            if name not in required
        },
    )


@pytest.fixture
def body_operations(client):
    """(method, path, its body's JSON schema) for every operation with a JSON body."""
    schema = client.get("/api/openapi.json").json()
    components = schema["components"]["schemas"]
    found = []
    for path, methods in schema["paths"].items():
        for method, op in methods.items():
            content = op.get("requestBody", {}).get("content", {})
            if "application/json" not in content:
                continue
            ref = content["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
            found.append((method.upper(), path, components[ref]))
    assert {(m, p) for m, p, _ in found} >= CONTRACT_BODY_OPERATIONS
    return found


@pytest.fixture
def world(db):
    """The fuzzer owns a room with a message in it; a victim to mute, ban, invite and
    block; someone else's public room and message."""
    from rooms import services as room_services

    fuzzer = UserFactory(username="fuzzer")
    victim = UserFactory(username="victim")
    own = RoomFactory(creator=fuzzer)
    room_services.room_join(room=own, user=victim)
    other = RoomFactory(creator=victim)
    mine, _ = room_services.message_post(room=own, author=fuzzer, body="mine")
    theirs, _ = room_services.message_post(room=other, author=victim, body="theirs")
    return {
        "headers": {"Authorization": f"Bearer {token_for(fuzzer)}"},
        "room_id": [own.id, other.id, 10**12],
        "message_id": [mine.id, theirs.id, 10**12],
    }


def _stored_rows() -> dict:
    from django.apps import apps

    rows = {}
    for label in ("accounts", "rooms"):
        for model in apps.get_app_config(label).get_models():
            fields = [
                f.attname for f in model._meta.concrete_fields if f.attname not in VOLATILE_FIELDS
            ]
            rows[model._meta.label] = list(model.objects.order_by("pk").values_list(*fields))
    return rows


def _send(client, method, path, body: bytes, content_type, headers):
    if isinstance(client, Client):
        return client.generic(method, path, body, content_type=content_type, headers=headers)
    from asgiref.sync import async_to_sync

    async def send():
        return await client.generic(method, path, body, content_type=content_type, headers=headers)

    return async_to_sync(send)()


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(data=st.data())
def test_hostile_json_bodies_are_refused_cleanly_and_store_nothing(
    body_operations, world, clients, data, settings
):
    from django.core.cache import cache
    from django.db import transaction

    from accounts import ratelimit
    from rooms.input_checks import UnsafeInput, loads

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = BODY_LIMIT
    method, template, schema = data.draw(st.sampled_from(body_operations))
    path = re.sub(
        r"\{(\w+)\}", lambda m: str(data.draw(st.sampled_from(world[m.group(1)]))), template
    )
    shaped = _bodies(schema)
    extra = st.dictionaries(HOSTILE_TEXT, HOSTILE_VALUES, max_size=2)
    body = data.draw(
        st.one_of(
            _bodies(schema, plausible=True),
            shaped,
            st.builds(lambda a, b: {**b, **a}, shaped, extra),
            HOSTILE_VALUES,
        )
    )
    raw = _json_text(body).encode().replace(str(BAD_UTF8).encode(), b'"\xed\xa0\x80"')
    content_type = data.draw(
        st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded"])
    )
    use_async = data.draw(st.booleans())
    try:
        loads(raw)
        unsafe = None
    except UnsafeInput as exc:
        unsafe = str(exc)
    if content_type.startswith("application/x-www") and unsafe == "not valid JSON.":
        unsafe = None  # form data: passed on, and ninja refuses it as a body itself

    cache.clear()  # rate limits would otherwise end every post after the first few
    ratelimit.reset_local_buckets()
    with transaction.atomic():
        before = _stored_rows()
        client = clients[use_async]
        response = _send(client, method, path, raw, content_type, world["headers"])
        status = response.status_code
        event(f"{method} {template} -> {status}")
        shown = (method, path, content_type, raw[:200], response.content[:300])
        assert status < 500, shown
        if status >= 400:
            assert response["Content-Type"].startswith("application/json"), shown
            assert isinstance(response.json()["detail"], str), shown
            assert _stored_rows() == before, shown
        if len(raw) > BODY_LIMIT:
            assert status == 413, shown
        elif unsafe is not None:
            assert status == 400, shown
            # The reason may differ from `unsafe`: json.loads gives up on deep nesting
            # at a depth that depends on the caller's stack, and a bad key shallower
            # in the same body is named first when it gets that far.
            assert response.json()["detail"].startswith("The request body was refused: "), shown
        transaction.set_rollback(True)


# --- Pins: the two endpoints' paths and bodies --------------------------------------------


@pytest.fixture
def pin_world(db):
    """A public room owned by `owner` with a member's message, a system line and a
    deleted message in it; a conference of the owner's that the member is not in."""
    from rooms import moderation
    from rooms import services as room_services

    owner = UserFactory(username="pin-owner")
    member = UserFactory(username="pin-member")
    others = [UserFactory(username=f"pin-other{n}") for n in range(2)]
    room = room_services.room_create(creator=owner, name="Pins")
    room_services.room_join(room=room, user=member)
    message, _ = room_services.message_post(room=room, author=member, body="pin me")
    gone, _ = room_services.message_post(room=room, author=member, body="gone")
    moderation.message_remove(message=gone, by=owner)
    system = room_services.post_system_message(room=room, body="a notice")
    conference = room_services.room_create(
        creator=owner, name="Pins", kind="conference", members=[u.username for u in others]
    )
    hidden, _ = room_services.message_post(room=conference, author=owner, body="private")
    return {
        "headers": {
            "owner": {"Authorization": f"Bearer {token_for(owner)}"},
            "member": {"Authorization": f"Bearer {token_for(member)}"},
        },
        "pinnable": {message.id, hidden.id},
        "hidden": hidden.id,
        "ids": [message.id, gone.id, system.id, hidden.id, 10**12],
        "rooms": [room.id, conference.id, 10**12],
    }


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_the_pin_endpoints_take_any_path_and_body_without_a_5xx(pin_world, clients, data, settings):
    """POST and DELETE /api/messages/{id}/pin and GET /api/rooms/{id}/pins with any id
    and any body: never a 5xx, every error a {"detail"} sentence, only the owner
    changes pins (the member is neither a moderator of the public room nor in the
    conference), and deleted messages and system lines never are pinned."""
    from rooms.models import Message

    settings.CHAT_PINS_PER_MINUTE = 10**6  # fuzz the rules, not the rate limit
    method = data.draw(st.sampled_from(["POST", "DELETE", "GET"]))
    who = data.draw(st.sampled_from(["owner", "member"]))
    if method == "GET":
        target = data.draw(st.one_of(PATH_IDS, st.sampled_from(pin_world["rooms"])))
        path = f"/api/rooms/{target}/pins"
    else:
        target = data.draw(st.one_of(PATH_IDS, st.sampled_from(pin_world["ids"])))
        path = f"/api/messages/{target}/pin"
    body = data.draw(BODIES)
    raw = body["__raw__"] if isinstance(body, dict) and "__raw__" in body else json.dumps(body)
    before = set(Message.objects.filter(pinned_at__isnull=False).values_list("id", flat=True))
    response = clients[False].generic(
        method, path, raw, content_type="application/json", headers=pin_world["headers"][who]
    )
    status = response.status_code
    event(f"{method} {who} -> {status}")
    assert status < 500, (method, path, raw, response.content[:300])
    if status >= 400:
        assert isinstance(response.json()["detail"], str), response.content
    after = set(Message.objects.filter(pinned_at__isnull=False).values_list("id", flat=True))
    assert after <= pin_world["pinnable"]
    if method != "GET" and (who == "member" or status >= 400):
        assert after == before, (method, path, who, status)
    refused_at_edge = status == 400 and response.json()["detail"].startswith(
        "The request body was refused"  # a body that is not JSON, before any route
    )
    if target == pin_world["hidden"] and who == "member" and not refused_at_edge:
        assert status == 404, (method, path)  # not theirs to see: as for a missing one
