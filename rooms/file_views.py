"""Serving message attachments: every request is checked against the room
(rooms.access.attachment_get_readable), for the file and its thumbnail alike, and
anyone who may not read the room gets the same 404 as for an id that never existed.

The bytes go out in one of two ways. With CHAT_FILES_ACCEL_REDIRECT set (behind the
compose stack's nginx), the view answers with only the headers and an
`X-Accel-Redirect` to nginx's `internal` location over MEDIA_ROOT, and nginx sends the
file; that location cannot be reached from outside. Otherwise (no nginx, or a store
other than the file system) the view streams the file from Django's default storage.

Only sniffed PNG, JPEG, GIF and WebP are served inline; everything else, SVG and HTML
included, is `Content-Disposition: attachment`. Every answer carries `nosniff` and a
Content-Security-Policy that lets nothing run, should a browser render it anyway.
"""

from __future__ import annotations

from django.conf import settings
from django.core.files.storage import FileSystemStorage, default_storage
from django.http import FileResponse, Http404, HttpResponse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_safe

from accounts import services as account_services
from rooms import access, attachments
from rooms.errors import AttachmentNotFound

FILE_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
# The permission is checked on every request; a browser may keep a copy for a while.
CACHE_CONTROL = "private, max-age=300"


def _user(request):
    """The session's user, or an API token's (scripts fetch the URLs the API gives)."""
    if request.user.is_authenticated:
        return request.user
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        return account_services.token_authenticate(secret=secret.strip())
    return None


def _readable(request, attachment_id: str):
    try:
        return access.attachment_get_readable(user=_user(request), attachment_id=attachment_id)
    except AttachmentNotFound:
        raise Http404("File not found.") from None


@require_safe
def attachment_file(request, attachment_id: str):
    attachment = _readable(request, attachment_id)
    inline = attachment.content_type in attachments.INLINE_TYPES
    return _serve(
        stored=attachment.file,
        content_type=attachment.content_type,
        disposition=content_disposition_header(not inline, attachment.name),
    )


@require_safe
def attachment_thumbnail(request, attachment_id: str):
    attachment = _readable(request, attachment_id)
    if not attachment.thumbnail:
        raise Http404("File not found.")
    jpeg = attachment.content_type == "image/jpeg"
    return _serve(
        stored=attachment.thumbnail,
        content_type="image/jpeg" if jpeg else "image/png",
        disposition=content_disposition_header(False, "thumbnail.jpg" if jpeg else "thumbnail.png"),
    )


def _serve(*, stored: str, content_type: str, disposition: str | None) -> HttpResponse:
    prefix = settings.CHAT_FILES_ACCEL_REDIRECT
    if prefix and isinstance(default_storage, FileSystemStorage):
        response = HttpResponse(content_type=content_type)
        # Storage names are made of the room id and a random token (rooms.attachments),
        # never of user text: nothing here to escape.
        response["X-Accel-Redirect"] = prefix + stored
    else:
        try:
            handle = default_storage.open(stored, "rb")
        except (OSError, ValueError):  # gone from the store (a lost volume)
            raise Http404("File not found.") from None
        response = FileResponse(handle, content_type=content_type)
    if disposition:
        response["Content-Disposition"] = disposition
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = FILE_CSP
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    response["Cache-Control"] = CACHE_CONTROL
    return response
