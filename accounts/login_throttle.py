"""Log-in throttling, shared by the log-in form and `POST /api/token`: after
LOGIN_FAILURE_LIMIT failures for a username (or from one address) in the window,
further attempts are refused until the window ends, right password or not."""

from __future__ import annotations

import contextlib
import hashlib

from django.conf import settings

from accounts import ratelimit


def _digest(text: str) -> str:
    # Usernames and addresses may hold characters that are not safe in cache keys.
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _keys(username: str, address: str) -> list[str]:
    return [f"login-user:{_digest(username.lower())}", f"login-addr:{_digest(address)}"]


def ensure_allowed(*, username: str, address: str) -> None:
    for key in _keys(username, address):
        ratelimit.check(
            key, limit=settings.LOGIN_FAILURE_LIMIT, window=settings.LOGIN_FAILURE_WINDOW
        )


def record_failure(*, username: str, address: str) -> None:
    for key in _keys(username, address):
        # Counting goes on past the limit; the refusal happens in ensure_allowed.
        with contextlib.suppress(ratelimit.RateLimited):
            ratelimit.hit(
                key,
                limit=settings.LOGIN_FAILURE_LIMIT * 10,
                window=settings.LOGIN_FAILURE_WINDOW,
            )


def record_success(*, username: str) -> None:
    ratelimit.clear(_keys(username, "")[0], window=settings.LOGIN_FAILURE_WINDOW)
