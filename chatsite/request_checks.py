"""Refuses, at the edge, requests no view should meet (rooms.input_checks, for HTTP).

Every request's path and query string, and under /api/ its body, are checked before
any view (django-ninja included) sees them:

- a NUL character in the path, or a query parameter (name or value) holding NUL or
  not decoding as UTF-8 (a lone surrogate's UTF-8 form included) -> 400;
- an API body that is not JSON, nests deeper than MAX_JSON_DEPTH, or holds NUL or a
  lone surrogate ("\\ud800") in any key or string -> 400. django-ninja parses a body
  as JSON whatever its Content-Type, so every API body is decoded here, with one
  exception: a body declared as form data (the test client's empty POST, a client
  posting a form) that is not JSON passes, since no API operation reads forms and
  ninja answers 400 itself if the operation wanted JSON;
- an API body over DATA_UPLOAD_MAX_MEMORY_SIZE -> 413 (Django's RequestDataTooBig).

Under /api/ a refusal is `{"detail": "<a sentence>"}`; elsewhere the sentence as
plain text. HTML form bodies are left to the forms, which answer with a form error
(accounts/forms.py, rooms/forms.py).

Works for sync and async requests alike. In an async request the path and query
checks (a regex over a short string) run in the event loop; reading and decoding a
body runs in a worker thread (thread_sensitive=False: no database, so no reason to
queue for Django's one sync thread). A GET without a body, such as the long poll,
never leaves the event loop.
"""

from __future__ import annotations

import json
import re
from urllib.parse import unquote_to_bytes

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.handlers.wsgi import WSGIRequest
from django.http import HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError

from rooms.input_checks import UnsafeInput, check_text, loads

API_PREFIX = "/api/"
_BODILESS_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_FORM_TYPES = frozenset({"multipart/form-data", "application/x-www-form-urlencoded"})


def _is_api(request) -> bool:
    return request.path_info.startswith(API_PREFIX)  # as URLs are resolved


def _refusal(request, status: int, detail: str) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"detail": detail}, status=status)
    return HttpResponse(detail, status=status, content_type="text/plain; charset=utf-8")


def _query_bytes(request) -> bytes:
    """The query string as the client sent it. WSGI hands it over as latin-1 (PEP
    3333); Django's ASGI request decoded it as UTF-8."""
    raw = request.META.get("QUERY_STRING", "")
    return raw.encode("latin-1" if isinstance(request, WSGIRequest) else "utf-8")


def _query_part(raw: bytes, *, what: str) -> str:
    """One percent-encoded name or value, decoded strictly. (Django decodes leniently:
    invalid UTF-8 would reach the view as U+FFFD.)"""
    try:
        text = unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        raise UnsafeInput(f"{what} is not valid UTF-8 text.") from None
    return check_text(text, field=what)


def query_problem(request) -> str | None:
    """The sentence refusing this request's query string, or None if it is fine."""
    try:
        raw = _query_bytes(request)
    except UnicodeEncodeError:
        return "The query string is not valid UTF-8 text."
    if not raw:
        return None
    pairs = [pair for pair in raw.split(b"&") if pair]
    limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
    if limit is not None and len(pairs) > limit:
        return f"The query string has more than {limit} parameters."
    try:
        for pair in pairs:
            raw_name, _, raw_value = pair.partition(b"=")
            name = _query_part(raw_name, what="A query parameter name")
            _query_part(raw_value, what=f"Query parameter {name[:40]}")
    except UnsafeInput as exc:
        return str(exc)
    return None


def request_line_refusal(request) -> HttpResponse | None:
    """Path and query checks, on every path: cheap, no I/O, fine in the event loop."""
    try:
        check_text(request.path, field="The request path")
    except UnsafeInput as exc:
        return _refusal(request, 400, str(exc))
    problem = query_problem(request)
    return _refusal(request, 400, problem) if problem else None


# The routes that take files (rooms/files_api.py). Every other API route reads its
# body whole below, as before, so one that does not take forms can still answer it.
_UPLOAD_PATH = re.compile(r"^/api/rooms/[^/]+/(?:uploads|messages/files)$")


def _multipart_refusal(request, length: int) -> HttpResponse | None:
    """File uploads (rooms/files_api.py) are not read here: Django's multipart parser
    streams the files to disk, and the form fields are checked by the services. Only
    the size is refused early: at most CHAT_FILES_PER_MESSAGE files of
    CHAT_UPLOAD_MAX_BYTES, and a little for the fields."""
    limit = settings.CHAT_FILES_PER_MESSAGE * settings.CHAT_UPLOAD_MAX_BYTES + 256 * 1024
    if length > limit:
        return _refusal(
            request, 413, f"The request body is larger than the limit of {limit} bytes."
        )
    # Parsed here, once (the view reads the result), so a malformed body is refused
    # with a sentence like every other API error rather than Django's HTML 400 page.
    try:
        request.POST  # noqa: B018 - parsing fills POST and FILES
    except RequestDataTooBig:
        return _refusal(request, 413, "The form fields are larger than the limit.")
    except (MultiPartParserError, SuspiciousOperation, UnicodeDecodeError, ValueError) as exc:
        return _refusal(request, 400, f"The multipart body could not be read: {exc}")
    return None


def body_refusal(request) -> HttpResponse | None:
    """Reads and decodes an API request's body once; may block (a large body can be
    spooled to disk), so async requests run it in a thread."""
    if not _is_api(request):
        return None
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    too_big = f"The request body is larger than the limit of {limit} bytes."
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return _refusal(request, 400, "The Content-Length header is not a number.")
    if request.content_type == "multipart/form-data" and _UPLOAD_PATH.match(request.path_info):
        return _multipart_refusal(request, length)
    try:
        body = request.body
    except RequestDataTooBig:
        return _refusal(request, 413, too_big)
    if limit is not None and len(body) > limit:  # no Content-Length (chunked)
        return _refusal(request, 413, too_big)
    if not body:
        return None
    if request.content_type in _FORM_TYPES and not _is_json(body):
        return None
    try:
        loads(body)
    except UnsafeInput as exc:
        return _refusal(request, 400, f"The request body was refused: {exc}")
    return None


def _is_json(body: bytes) -> bool:
    """Whether a body declared as form data is JSON after all (then it is checked like
    any other: ninja would read it as JSON)."""
    try:
        json.loads(body)
    except RecursionError:
        return True  # JSON, too deep: loads() refuses it with that reason
    except ValueError:
        return False
    return True


def _may_have_body(request) -> bool:
    if not _is_api(request):
        return False
    if request.method not in _BODILESS_METHODS:
        return True
    return request.META.get("CONTENT_LENGTH") not in (None, "", "0") or (
        "Transfer-Encoding" in request.headers
    )


class RequestChecksMiddleware:
    """Sync and async capable, like chatsite.request_log.RequestLogMiddleware."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self._acall(request)
        refusal = request_line_refusal(request) or body_refusal(request)
        return refusal or self.get_response(request)

    async def _acall(self, request):
        refusal = request_line_refusal(request)
        if refusal is None and _may_have_body(request):
            refusal = await sync_to_async(body_refusal, thread_sensitive=False)(request)
        return refusal or await self.get_response(request)
