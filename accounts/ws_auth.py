"""Authentication for the chat socket: session cookie, Bearer token, or ticket.

A socket authenticated by its session cookie must come from an Origin in
ALLOWED_HOSTS (cross-site WebSocket hijacking would otherwise ride the victim's
cookie). Token and ticket sockets carry their own credential, so they may omit the
Origin. A refused socket gets an anonymous user; the consumer accepts and closes it
with 4401 so the client can tell a refusal from a network failure.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qs, urlparse

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http.request import validate_host

from accounts import services

log = logging.getLogger(__name__)


def origin_allowed(origin: str | None) -> bool:
    if not origin:
        return False
    parsed = urlparse(origin)
    host = parsed.hostname
    if parsed.scheme not in ("http", "https") or not host:
        return False
    if ":" in host:  # IPv6 literals appear bracketed in ALLOWED_HOSTS
        host = f"[{host}]"
    return validate_host(host, settings.ALLOWED_HOSTS)


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
                user = await database_sync_to_async(services.token_authenticate)(
                    secret=secret.strip()
                )
            scope["user"] = user or AnonymousUser()
            scope["auth_method"] = "token"
            scope["chat_credential"] = getattr(user, "chat_credential", None)
        elif ticket:
            user = await database_sync_to_async(services.ticket_redeem)(secret=ticket[0])
            scope["user"] = user or AnonymousUser()
            scope["auth_method"] = "ticket"
            # The session or token that made the ticket: the socket dies with it.
            scope["chat_credential"] = getattr(user, "chat_credential", None)
        else:
            scope["auth_method"] = "session"
            user = scope.get("user")
            if user is not None and user.is_authenticated:
                if origin_allowed(_header(scope, b"origin")):
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


def ChatAuthStack(app):  # noqa: N802 - reads like Channels' AuthMiddlewareStack
    return AuthMiddlewareStack(CredentialMiddleware(app))
