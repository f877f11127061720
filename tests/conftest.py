"""Shared fixtures: personas, real-service switches, socket helpers.

Real Redis and PostgreSQL are used where behaviour depends on them. On a machine
without them those tests skip with a reason; with CI=true they fail instead.
"""

from __future__ import annotations

import os
import socket

import pytest
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from django.core.cache import cache
from django.db import connections

from accounts import ratelimit
from accounts import services as account_services
from chatsite.asgi import application
from rooms import services as room_services
from rooms.realtime import presence, tails
from tests.factories import RoomFactory, UserFactory

IN_CI = os.environ.get("CI", "").lower() == "true"
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
PASSWORD = "correct-horse-42"


def need(reason: str) -> None:
    """Skip for a missing service, except in CI, where it is a failure."""
    if IN_CI:
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


def redis_available() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session", autouse=True)
def _let_the_test_database_go(django_db_setup, django_db_blocker):
    """Async tests leave database connections in threads the test clients never close
    (asgiref's sync thread, finished event loops' executors). On PostgreSQL one such
    connection stops the test database from being dropped at the end, so end them
    before Django drops it."""
    yield
    connection = connections["default"]
    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    connection.close()


@pytest.fixture(scope="session", autouse=True)
def _uploads_outside_the_checkout(tmp_path_factory):
    """Uploaded files (avatars) go to a temporary MEDIA_ROOT, in this process and in the
    server processes live and browser tests start (they read the environment)."""
    media_root = str(tmp_path_factory.mktemp("media"))
    saved = os.environ.get("MEDIA_ROOT")
    os.environ["MEDIA_ROOT"] = media_root
    yield media_root
    if saved is None:
        os.environ.pop("MEDIA_ROOT", None)
    else:
        os.environ["MEDIA_ROOT"] = saved


@pytest.fixture(autouse=True)
def _fast_and_isolated(settings, monkeypatch, _uploads_outside_the_checkout):
    # No re-announced tails: tests that count events see only what they caused
    # (tests/realtime/test_tails.py turns them on; the live workers run them as shipped).
    monkeypatch.setattr(tails, "TAIL_DELAYS", ())
    settings.MEDIA_ROOT = _uploads_outside_the_checkout
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.CHAT_CLEANUP_LOOP = False  # tests call rooms.realtime.cleanup directly
    cache.clear()
    ratelimit.reset_local_buckets()
    channel_layers.backends.clear()  # a fresh in-memory layer per test (and event loop)
    presence._stores.clear()  # and fresh in-memory presence: no other test's sockets
    yield
    channel_layers.backends.clear()


@pytest.fixture(autouse=True)
def broadcasts_outside_transactions():
    """Zulip's rule, for every test: a broadcast may only leave once the transaction
    that made the change has committed. rooms.realtime.events calls the check on every
    send, in the thread sending it; a send while a transaction of the code under test
    is open there (not the test case's own wrapping one) fails the test."""
    from rooms.realtime import events

    problems: list[str] = []

    def check(group: str) -> None:
        connection = connections["default"]
        if any(not getattr(b, "_from_testcase", False) for b in connection.atomic_blocks):
            problems.append(group)

    events.send_check = check
    yield problems
    events.send_check = None
    assert not problems, f"broadcast while a transaction was open, to: {problems}"


@pytest.fixture
def redis_url():
    if not redis_available():
        need("Redis is not running on 127.0.0.1:6379")
    return REDIS_URL


@pytest.fixture
def redis_layer(settings, redis_url):
    """Switch this test to the real channels-redis layer, configured as in production,
    under a key prefix of its own so parallel runs never see each other's keys."""
    import uuid

    from chatsite import settings as site_settings

    prefix = f"chattest{uuid.uuid4().hex[:10]}"
    settings.REDIS_URL = redis_url
    settings.CHAT_REDIS_PREFIX = prefix
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "chatsite.channel_layer.RedisChannelLayer",
            "CONFIG": {
                "hosts": [{"address": redis_url, "max_connections": 2000, "socket_timeout": None}],
                "group_expiry": site_settings.CHANNEL_GROUP_EXPIRY,
                "capacity": 1000,
                "prefix": prefix,
            },
        }
    }
    channel_layers.backends.clear()
    return redis_url


@pytest.fixture
def alice(db):
    return UserFactory(username="alice", display_name="Alice")


@pytest.fixture
def bob(db):
    return UserFactory(username="bob", display_name="Bob")


@pytest.fixture
def carol(db):
    return UserFactory(username="carol", display_name="Carol")


@pytest.fixture
def mallory(db):
    return UserFactory(username="mallory", display_name="Mallory")


@pytest.fixture
def room(alice):
    return RoomFactory(name="General", slug="general", creator=alice)


@pytest.fixture
def conference(alice, bob, carol):
    """alice's conference with bob and carol."""
    return room_services.room_create(
        creator=alice, name="Plans", kind="conference", members=["bob", "carol"]
    )


@pytest.fixture
def direct(alice, bob):
    """The 1:1 chat of alice and bob."""
    return room_services.direct_get_or_create(user=alice, username="bob")[0]


def token_for(user) -> str:
    return account_services.token_create(user=user, name="test")[1]


@pytest.fixture
def api_client(client):
    """A Django test client that speaks Bearer tokens: api_client(user).get(...)."""

    class Api:
        def __init__(self, user):
            self.headers = {"Authorization": f"Bearer {token_for(user)}"} if user else {}

        def get(self, path, **params):
            return client.get(path, params, headers=self.headers)

        def post(self, path, data=None):
            return client.post(
                path,
                data if data is not None else {},
                content_type="application/json",
                headers=self.headers,
            )

        def patch(self, path, data):
            return client.patch(path, data, content_type="application/json", headers=self.headers)

        def put(self, path, data):
            return client.put(path, data, content_type="application/json", headers=self.headers)

        def delete(self, path):
            return client.delete(path, headers=self.headers)

    return Api


async def connect(user=None, *, headers=None, path="/ws/chat/") -> WebsocketCommunicator:
    """A socket on the real ASGI application, authenticated with a real token."""
    from channels.db import database_sync_to_async

    all_headers = list(headers or [])
    if user is not None:
        token = await database_sync_to_async(token_for)(user)
        all_headers.append((b"authorization", f"Bearer {token}".encode()))
    communicator = WebsocketCommunicator(application, path, headers=all_headers)
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def join(communicator, room_id, after=None, **extra):
    await communicator.send_json_to({"type": "join", "room": room_id, "after": after, **extra})
    frame = await receive_type(communicator, "joined")
    return frame


async def receive_type(communicator, frame_type, timeout=3):
    """The next frame of this type, skipping presence, read-position and room-list updates."""
    while True:
        frame = await communicator.receive_json_from(timeout=timeout)
        if frame["type"] == frame_type:
            return frame
        if frame["type"] not in BACKGROUND_FRAMES:
            raise AssertionError(f"expected {frame_type}, got {frame}")


BACKGROUND_FRAMES = ("presence", "read", "room_activity")


async def nothing_more(communicator, timeout=0.3) -> bool:
    """Nothing but background frames (presence lists, read positions, room-list
    updates, which may come a moment later) arrives within `timeout`."""
    while not await communicator.receive_nothing(timeout=timeout):
        frame = await communicator.receive_json_from()
        if frame["type"] not in BACKGROUND_FRAMES:
            raise AssertionError(f"expected nothing more, got {frame}")
    return True
