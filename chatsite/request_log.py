"""One log line per HTTP request, with a request id (X-Request-ID if the proxy sent a
sane one, else a new one), echoed back in the response. Never bodies."""

from __future__ import annotations

import logging
import re
import time
import uuid

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.utils.functional import LazyObject, empty

log = logging.getLogger("chatsite.request")
_SANE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def _known_user(request):
    """The user this request already looked up, if any. Never loads one: the lazy
    request.user would query the database, which an async request may not do in the
    event loop (and a log line is no reason to). API calls name theirs in .auth."""
    user = request.__dict__.get("user")
    if isinstance(user, LazyObject) and user._wrapped is empty:
        user = None
    if user is None or not user.is_authenticated:
        user = getattr(request, "auth", None)
    return user if getattr(user, "is_authenticated", False) else None


def _request_id(request) -> str:
    given = request.headers.get("X-Request-ID", "")
    return given if _SANE_ID.match(given) else uuid.uuid4().hex[:16]


class RequestLogMiddleware:
    """Works for sync and async views alike (long polls are async)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self._acall(request)
        started = time.monotonic()
        request.request_id = _request_id(request)
        response = self.get_response(request)
        return self._done(request, response, started)

    async def _acall(self, request):
        started = time.monotonic()
        request.request_id = _request_id(request)
        response = await self.get_response(request)
        return self._done(request, response, started)

    def _done(self, request, response, started):
        response["X-Request-ID"] = request.request_id
        user = _known_user(request)
        log.info(
            "request id=%s method=%s path=%s status=%s ms=%.1f user=%s",
            request.request_id,
            request.method,
            request.path,
            response.status_code,
            (time.monotonic() - started) * 1000,
            user.pk if user is not None else "-",
        )
        return response
