"""Authentication for the chat socket: session cookie, Bearer token, or ticket.

A socket authenticated by its session cookie must come from one of the site's own
origins (cross-site WebSocket hijacking would otherwise ride the victim's cookie):
see origin_allowed. Token and ticket sockets carry their own credential, so they may
omit the Origin. A refused socket gets an anonymous user; the consumer accepts and
closes it with 4401 so the client can tell a refusal from a network failure.
"""

from __future__ import annotations

import functools
import logging
from urllib.parse import parse_qs, urlparse

from channels.auth import AuthMiddleware
from channels.sessions import CookieMiddleware, SessionMiddleware
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http.request import validate_host

from accounts import services
from rooms.realtime.db_gate import in_thread

log = logging.getLogger(__name__)


Origin = tuple[str, str, int]  # scheme, host, port
DEFAULT_PORTS = {"http": 80, "https": 443}


def _parse_origin(text: str) -> Origin | None:
    """scheme://host[:port] as (scheme, lower-case host, port with the default filled
    in); None for anything else ("null", another scheme, a bad port)."""
    try:
        parsed = urlparse(text.strip())
        port = parsed.port
    except ValueError:
        return None
    scheme = parsed.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parsed.hostname:
        return None
    if parsed.username is not None or parsed.path or parsed.query or parsed.fragment:
        return None  # an origin is only scheme://host[:port]
    return scheme, parsed.hostname.lower().rstrip("."), port or DEFAULT_PORTS[scheme]


def _in_allowed_hosts(host: str) -> bool:
    if ":" in host:  # IPv6 literals appear bracketed in ALLOWED_HOSTS
        host = f"[{host}]"
    return validate_host(host, settings.ALLOWED_HOSTS)


@functools.lru_cache(maxsize=8)
def _trusted_origins(entries: tuple[str, ...]) -> tuple[set[Origin], list[tuple[str, str, int]]]:
    """CSRF_TRUSTED_ORIGINS as exact origins, and its `scheme://*.domain[:port]`
    entries as (scheme, ".domain", port) patterns, as Django's CSRF check reads them."""
    exact: set[Origin] = set()
    patterns: list[tuple[str, str, int]] = []
    for entry in entries:
        if "://*." in entry:
            scheme, _, rest = entry.partition("://*.")
            parsed = _parse_origin(f"{scheme}://{rest}")
            if parsed:
                patterns.append((parsed[0], "." + parsed[1], parsed[2]))
        elif parsed := _parse_origin(entry):
            exact.add(parsed)
    return exact, patterns


def _own_origin(scope) -> Origin | None:
    """The origin the socket itself was opened at: its Host header, http for ws and
    https for wss. Behind a proxy that ends TLS this reads http, so such sites name
    their https origin in CSRF_TRUSTED_ORIGINS (as Django's CSRF check needs anyway)."""
    host = _header(scope, b"host")
    if not host:
        return None
    scheme = "https" if scope.get("scheme") == "wss" else "http"
    return _parse_origin(f"{scheme}://{host}")


def origin_allowed(origin: str | None, scope) -> bool:
    """May a socket that carries the session cookie come from this Origin?

    Its scheme, host and port (defaults filled in) must equal the socket's own
    origin (same-origin: the page was served by this site at the Host the socket was
    opened at) or an entry of CSRF_TRUSTED_ORIGINS (`https://*.domain` entries match
    subdomains, as for Django's CSRF check); and its host must be in ALLOWED_HOSTS.
    A host in ALLOWED_HOSTS is not enough by itself: http://127.0.0.1:9999 is
    another site (any local program) than http://127.0.0.1:8000.
    """
    parsed = _parse_origin(origin) if origin else None
    if parsed is None or not _in_allowed_hosts(parsed[1]):
        return False
    if parsed == _own_origin(scope):
        return True
    exact, patterns = _trusted_origins(tuple(settings.CSRF_TRUSTED_ORIGINS))
    if parsed in exact:
        return True
    scheme, host, port = parsed
    return any(
        scheme == p_scheme and port == p_port and (host.endswith(domain) or host == domain[1:])
        for p_scheme, domain, p_port in patterns
    )


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


class CredentialMiddleware:
    """Runs inside Channels' session and auth middleware and decides which credential
    the socket uses. An explicit token or ticket wins over the cookie; a bad one is a
    refusal, never a fall-back to the cookie."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        scope = dict(scope)
        authorization = _header(scope, b"authorization")
        ticket = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("ticket")
        if authorization is not None:
            scheme, _, secret = authorization.partition(" ")
            user = None
            if scheme.lower() == "bearer":
                user = await in_thread(services.token_authenticate)(secret=secret.strip())
            scope["user"] = user or AnonymousUser()
            scope["auth_method"] = "token"
            scope["chat_credential"] = getattr(user, "chat_credential", None)
        elif ticket:
            user = await in_thread(services.ticket_redeem)(secret=ticket[0])
            scope["user"] = user or AnonymousUser()
            scope["auth_method"] = "ticket"
            # The session or token that made the ticket: the socket dies with it.
            scope["chat_credential"] = getattr(user, "chat_credential", None)
        else:
            scope["auth_method"] = "session"
            user = scope.get("user")
            if user is not None and user.is_authenticated:
                if origin_allowed(_header(scope, b"origin"), scope):
                    session = scope.get("session")
                    session_key = getattr(session, "session_key", None)
                    scope["chat_session_key"] = session_key
                    scope["chat_credential"] = f"session:{session_key}" if session_key else None
                else:
                    log.warning(
                        "refused a cookie-authenticated socket from origin %r (user %s)",
                        _header(scope, b"origin"),
                        user.pk,
                    )
                    scope["user"] = AnonymousUser()
        return await self.app(scope, receive, send)


def _brings_credential(scope) -> bool:
    """A token or a ticket: CredentialMiddleware decides, the cookie is never used."""
    if _header(scope, b"authorization") is not None:
        return True
    return bool(parse_qs(scope.get("query_string", b"").decode("latin-1")).get("ticket"))


class CredentialRouter:
    """A socket that brings a token or a ticket never uses the cookie, so it skips
    Channels' cookie, session and session-user middleware: their lookups (the session
    user is read in Channels' one shared sync thread, where every socket of the process
    queues), the scope copy each keeps for the socket's life, and the session
    middleware's wrapper around every frame sent. A cookie socket goes through them."""

    def __init__(self, app):
        self.with_credential = CredentialMiddleware(app)
        self.with_cookie = CookieMiddleware(SessionMiddleware(AuthMiddleware(self.with_credential)))

    async def __call__(self, scope, receive, send):
        if _brings_credential(scope):
            return await self.with_credential(scope, receive, send)
        return await self.with_cookie(scope, receive, send)


def ChatAuthStack(app):  # noqa: N802 - reads like Channels' AuthMiddlewareStack
    return CredentialRouter(app)
