"""How API requests authenticate: a Bearer token, or the browser session with its
CSRF check. The async variants are for async operations (the long poll): their
database work goes through rooms.realtime.db_gate, so a burst of waiting requests opens a
bounded number of connections and a waiting one holds none."""

from __future__ import annotations

from ninja.security import HttpBearer, SessionAuth

from accounts import services
from rooms.realtime import db_gate


class BearerToken(HttpBearer):
    def authenticate(self, request, token: str):
        return services.token_authenticate(secret=token)


class SignedInSession(SessionAuth):
    """The browser session, with its CSRF check. The check runs only for a signed-in
    session: a request with no credentials at all is a 401, not a CSRF 403."""

    def __call__(self, request):
        if not request.user.is_authenticated:
            return None
        return super().__call__(request)


class AsyncBearerToken(HttpBearer):
    is_async = True

    async def authenticate(self, request, token: str):
        return await db_gate.run(services.token_authenticate, secret=token)


class AsyncSignedInSession(SessionAuth):
    is_async = True

    async def __call__(self, request):
        user = await db_gate.run(lambda: request.user if request.user.is_authenticated else None)
        if user is None:
            return None
        # Reads need no CSRF check (Django's check passes safe methods anyway).
        return user


SYNC_AUTH = [BearerToken(), SignedInSession()]
ASYNC_AUTH = [AsyncBearerToken(), AsyncSignedInSession()]
