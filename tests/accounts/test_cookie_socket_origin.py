"""A socket authenticated by its session cookie must come from one of the site's own
origins: scheme, host and port equal to the socket's own (same-origin) or to an entry
of CSRF_TRUSTED_ORIGINS, with the host in ALLOWED_HOSTS (accounts/ws_auth.py)."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from accounts.ws_auth import origin_allowed
from chatsite.asgi import application
from tests.conftest import join

SITE = "127.0.0.1:8205"


@pytest.fixture(autouse=True)
def _site(settings):
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]", ".example.com"]
    settings.CSRF_TRUSTED_ORIGINS = ["http://127.0.0.1:8000", "http://localhost:8000"]


def socket_scope(host: str | None = SITE, scheme: str = "ws") -> dict:
    headers = [(b"host", host.encode())] if host else []
    return {"type": "websocket", "scheme": scheme, "headers": headers}


@pytest.mark.parametrize(
    ("origin", "host", "scheme"),
    [
        ("http://127.0.0.1:8205", SITE, "ws"),
        ("HTTP://127.0.0.1:8205", SITE, "ws"),
        ("https://chat.example.com", "chat.example.com", "wss"),
        ("https://chat.example.com:443", "chat.example.com", "wss"),
        ("http://chat.example.com", "chat.example.com:80", "ws"),
        ("http://[::1]:8205", "[::1]:8205", "ws"),
        # Not this socket's origin, but trusted for the whole site.
        ("http://localhost:8000", SITE, "ws"),
        ("http://127.0.0.1:8000", None, "ws"),
    ],
)
def test_the_sites_own_origins_are_allowed(origin, host, scheme):
    assert origin_allowed(origin, socket_scope(host, scheme))


@pytest.mark.parametrize(
    "origin",
    [
        "http://127.0.0.1:9999",  # another program on the same machine
        "http://localhost",
        "http://localhost:8205",  # another name for the host is another origin
        "https://127.0.0.1:8205",  # another scheme
        "http://127.0.0.1",
        "https://evil.example",
        "null",
        "",
        None,
        "ws://127.0.0.1:8205",
        "http://127.0.0.1:8205/path",
        "http://user@127.0.0.1:8205",
        "http://127.0.0.1:99999",
        "http://127.0.0.1:bad",
    ],
)
def test_other_origins_are_refused(origin):
    assert not origin_allowed(origin, socket_scope())


def test_same_origin_needs_the_host_in_allowed_hosts(settings):
    settings.ALLOWED_HOSTS = ["chat.example.com"]
    assert not origin_allowed("http://evil.test:8205", socket_scope("evil.test:8205"))


def test_a_trusted_origin_needs_its_host_in_allowed_hosts(settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://other.test"]
    assert not origin_allowed("https://other.test", socket_scope())


def test_an_https_page_behind_a_tls_proxy_is_allowed_through_the_trusted_origins(settings):
    # The proxy ends TLS: the socket reaches the worker as plain ws.
    scope = socket_scope("chat.example.com", "ws")
    assert not origin_allowed("https://chat.example.com", scope)
    settings.CSRF_TRUSTED_ORIGINS = ["https://chat.example.com"]
    assert origin_allowed("https://chat.example.com", scope)


def test_wildcard_trusted_origins_match_subdomains_as_for_csrf(settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://*.example.com"]
    scope = socket_scope("internal:8000")
    assert origin_allowed("https://chat.example.com", scope)
    assert origin_allowed("https://example.com", scope)
    assert not origin_allowed("http://chat.example.com", scope)
    assert not origin_allowed("https://chat.example.com:8443", scope)
    assert not origin_allowed("https://evilexample.com", scope)


async def cookie_socket(client, user, origin: str | None, host: str = SITE):
    await database_sync_to_async(client.force_login)(user)
    headers = [
        (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()),
        (b"host", host.encode()),
    ]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    communicator = WebsocketCommunicator(application, "/ws/chat/", headers=headers)
    await communicator.connect()
    return communicator


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "origin", ["http://127.0.0.1:9999", "http://localhost", "https://127.0.0.1:8205", None]
)
async def test_a_cookie_socket_from_another_origin_is_closed_4401(client, alice, origin):
    socket = await cookie_socket(client, alice, origin)
    assert await socket.receive_output(timeout=2) == {"type": "websocket.close", "code": 4401}


@pytest.mark.django_db(transaction=True)
async def test_a_same_origin_cookie_socket_is_served(client, alice, room):
    socket = await cookie_socket(client, alice, f"http://{SITE}")
    joined = await join(socket, room.id)
    assert joined["room"] == room.id
    await socket.disconnect()
