"""The root of the JSON API: authentication and the one error shape.

This is root routing for /api/ (like urls.py), so it lives in chatsite/. Every error
answers `{"detail": "<a sentence>"}` with a 4xx status; validation errors too.
"""

from __future__ import annotations

from django.http import Http404
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from accounts.api import router as accounts_router
from accounts.api_auth import SYNC_AUTH
from rooms.api import router as rooms_router
from rooms.errors import ChatError, RateLimitedError
from rooms.files_api import router as files_router
from rooms.moderation_api import router as moderation_router

api = NinjaAPI(
    title="Chat site API",
    version="1",
    auth=SYNC_AUTH,
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
)
api.add_router("", accounts_router)
api.add_router("", rooms_router)
api.add_router("", moderation_router)
api.add_router("", files_router)


def _validation_sentence(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors[:5]:
        location = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body", "payload"))
        message = error.get("msg", "is invalid")
        parts.append(f"{location}: {message}" if location else message)
    return "Invalid request: " + "; ".join(parts) + "."


@api.exception_handler(ValidationError)
def on_validation_error(request, exc: ValidationError):
    return api.create_response(request, {"detail": _validation_sentence(exc)}, status=400)


@api.exception_handler(ChatError)
def on_chat_error(request, exc: ChatError):
    response = api.create_response(request, {"detail": exc.detail, **exc.extra}, status=exc.status)
    if isinstance(exc, RateLimitedError):
        response["Retry-After"] = str(exc.retry_after)
    return response


@api.exception_handler(AuthenticationError)
def on_auth_error(request, exc: AuthenticationError):
    return api.create_response(
        request, {"detail": "Authentication required: a Bearer token or a session."}, status=401
    )


@api.exception_handler(HttpError)
def on_http_error(request, exc: HttpError):
    return api.create_response(
        request, {"detail": str(exc) or "Bad request."}, status=exc.status_code
    )


@api.exception_handler(Http404)
def on_not_found(request, exc: Http404):
    return api.create_response(request, {"detail": "Not found."}, status=404)
