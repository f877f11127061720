"""Log-in throttling, shared by the site's log-in form, the admin's and
`POST /api/token`.

Failures are counted per (username, client address) and per client address, never
per username alone: LOGIN_FAILURE_LIMIT failures for "alice" from address X within
LOGIN_FAILURE_WINDOW seconds refuse alice from X, and LOGIN_ADDRESS_FAILURE_LIMIT
failures from X, whatever the usernames, refuse X. Refused means refused with the
right password too, until the window ends. Alice from another address still logs in,
so a stranger cannot lock her out everywhere by guessing. The address is
chatsite.client_address's, the same one every throttle uses.
"""

from __future__ import annotations

import contextlib
import hashlib

from django.conf import settings

from accounts import ratelimit


def _digest(text: str) -> str:
    # Usernames and addresses may hold characters that are not safe in cache keys.
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _user_key(username: str, address: str) -> str:
    # NUL cannot appear in an address, so no two pairs share a key.
    return f"login-user-addr:{_digest(username.lower() + chr(0) + address)}"


def _address_key(address: str) -> str:
    return f"login-addr:{_digest(address)}"


def _limits(username: str, address: str) -> list[tuple[str, int]]:
    return [
        (_user_key(username, address), settings.LOGIN_FAILURE_LIMIT),
        (_address_key(address), settings.LOGIN_ADDRESS_FAILURE_LIMIT),
    ]


def ensure_allowed(*, username: str, address: str) -> None:
    """Raise ratelimit.RateLimited (with the seconds to wait) if this username from
    this address, or this address at all, has failed too often in the window."""
    for key, limit in _limits(username, address):
        ratelimit.check(key, limit=limit, window=settings.LOGIN_FAILURE_WINDOW)


def record_failure(*, username: str, address: str) -> None:
    for key, limit in _limits(username, address):
        # Counting goes on past the limit; the refusal happens in ensure_allowed.
        with contextlib.suppress(ratelimit.RateLimited):
            ratelimit.hit(key, limit=limit * 10, window=settings.LOGIN_FAILURE_WINDOW)


def record_success(*, username: str, address: str) -> None:
    """Forget this username's failures from this address. The address's own count
    stays: one account's right password must not reset a guesser's budget."""
    ratelimit.clear(_user_key(username, address), window=settings.LOGIN_FAILURE_WINDOW)


def record_reset_request(*, email: str, address: str) -> None:
    """Count one password-reset mail asked for; raise ratelimit.RateLimited past
    PASSWORD_RESET_LIMIT an hour from one address or for one email address, so the
    form cannot be used to flood someone's inbox. Counted whether or not an account
    has that email, so the answer tells nothing about who has an account."""
    for key in (f"reset-addr:{_digest(address)}", f"reset-email:{_digest(email.lower())}"):
        ratelimit.hit(key, limit=settings.PASSWORD_RESET_LIMIT, window=3600)
