"""Accounts over the JSON API: tokens, tickets, the current user, user search."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.contrib.auth import authenticate
from ninja import Router, Schema, Status
from pydantic import StrictBool, StrictInt

from accounts import avatars, login_throttle, ratelimit, selectors, services
from chatsite.client_address import client_address
from rooms.errors import InvalidInput, RateLimitedError

router = Router(tags=["accounts"])
USER_SEARCH_MAX_OFFSET = 1_000_000


class Credentials(Schema):
    username: str
    password: str


class TokenOut(Schema):
    token: str


class TicketOut(Schema):
    ticket: str
    expires_in: int


class UserOut(Schema):
    username: str
    display_name: str
    # GET it with the same credentials (token or session): a 128x128 PNG. Null when
    # the user has none (clients draw initials).
    avatar_url: str | None = None

    @staticmethod
    def resolve_avatar_url(user) -> str | None:
        return avatars.url(user)


class UserList(Schema):
    users: list[UserOut]
    has_more: bool


class Detail(Schema):
    detail: str


def _limit(key: str, *, limit: int, window: int) -> None:
    try:
        ratelimit.hit(key, limit=limit, window=window)
    except ratelimit.RateLimited as exc:
        raise RateLimitedError(exc.retry_after) from exc


@router.post("/token", auth=None, response={200: TokenOut, 401: Detail, 429: Detail})
def token_create(request, credentials: Credentials):
    """Exchange a username and password for an API token (throttled after failures)."""
    address = client_address(request)
    try:
        login_throttle.ensure_allowed(username=credentials.username, address=address)
    except ratelimit.RateLimited as exc:
        raise RateLimitedError(exc.retry_after) from exc
    user = authenticate(request, username=credentials.username, password=credentials.password)
    if user is None:
        login_throttle.record_failure(username=credentials.username, address=address)
        return Status(401, {"detail": "Invalid username or password."})
    login_throttle.record_success(username=credentials.username, address=address)
    _limit(f"token-create:{user.pk}", limit=settings.CHAT_TOKEN_CREATE_LIMIT, window=3600)
    _, secret = services.token_create(user=user, name="api")
    return Status(200, {"token": secret})


@router.post("/tickets", response={201: TicketOut, 429: Detail})
def ticket_create(request):
    """A single-use ticket for `/ws/chat/?ticket=`, valid for a few seconds."""
    _limit(f"ticket-create:{request.auth.pk}", limit=settings.CHAT_TICKET_CREATE_LIMIT, window=60)
    # What made the ticket (this token, or this browser session) is what its socket
    # dies with: a log-out or a revoked token closes it.
    credential = getattr(request.auth, "chat_credential", None)
    if credential is None and request.session.session_key:
        credential = f"session:{request.session.session_key}"
    ticket, ttl = services.ticket_create(user=request.auth, credential=credential)
    return Status(201, {"ticket": ticket, "expires_in": ttl})


@router.get("/me", response=UserOut)
def me(request):
    return request.auth


class DoNotDisturbIn(Schema):
    """`{"on": bool}`; `{"minutes": N}` (or with `"on": true`) for N minutes only."""

    on: StrictBool | None = None
    minutes: StrictInt | None = None


class DoNotDisturbOut(Schema):
    on: bool
    until: datetime | None  # null while off, and while on with no end


def _do_not_disturb(user) -> dict:
    return {"on": user.do_not_disturb, "until": services.do_not_disturb_end(user=user)}


@router.get("/me/dnd", response=DoNotDisturbOut)
def do_not_disturb_get(request):
    """Whether my do-not-disturb is on (no desktop notifications), and until when."""
    return _do_not_disturb(request.auth)


@router.put("/me/dnd", response={200: DoNotDisturbOut, 400: Detail})
def do_not_disturb_set(request, payload: DoNotDisturbIn):
    """Turn do-not-disturb on (`{"on": true}`, or `{"minutes": N}` for a while) or off."""
    if payload.on is None and payload.minutes is None:
        raise InvalidInput('Give "on" or "minutes".')
    on = True if payload.on is None else payload.on
    services.user_set_do_not_disturb(user=request.auth, on=on, minutes=payload.minutes)
    return _do_not_disturb(request.auth)


@router.get("/users", response={200: UserList, 400: Detail})
def user_search(request, q: str = "", limit: int = 20, offset: int = 0):
    """Users whose username or display name contains `q`."""
    limit = max(1, min(limit, 100))
    offset = max(0, offset)
    if offset > USER_SEARCH_MAX_OFFSET:
        # Past any real result, and past what the database can take as an OFFSET.
        raise InvalidInput(f"offset must be at most {USER_SEARCH_MAX_OFFSET}.")
    rows = list(selectors.user_search(query=q[:100])[offset : offset + limit + 1])
    return {"users": rows[:limit], "has_more": len(rows) > limit}


class BlockIn(Schema):
    username: str


@router.post("/blocks", response={204: None, 400: Detail})
def block_create(request, payload: BlockIn):
    """Block a user: they can no longer open a private chat with me or invite me."""
    services.user_block(blocker=request.auth, username=payload.username)
    return Status(204, None)


@router.delete("/blocks/{username}", response={204: None})
def block_delete(request, username: str):
    services.user_unblock(blocker=request.auth, username=username)
    return Status(204, None)
