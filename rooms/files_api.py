"""Attachments over the JSON API (multipart/form-data in, JSON out).

Two ways to send files, both under the room's post rules (rooms.access):

- upload, then send: `POST /api/rooms/{id}/uploads` with one `file` answers 201 with
  the upload's `id`; `POST /api/rooms/{id}/messages` `{"body", "client_id",
  "attachments": [ids]}` sends them (rooms/api.py). An upload not sent within
  CHAT_UPLOAD_UNUSED_TTL seconds is removed.
- in one request: `POST /api/rooms/{id}/messages/files` with `file` (once per file),
  and the message's `body`, `client_id`, `reply_to` and `thread_only` as form fields: 201 Message.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from ninja import File, Form, Router, Schema, Status
from ninja.files import UploadedFile

from rooms import access, attachments, services, wire
from rooms.api import Detail, MessageOut
from rooms.errors import InvalidInput
from rooms.input_checks import UnsafeInput, check_text

router = Router(tags=["files"])


class UploadOut(Schema):
    id: str
    name: str
    size: int
    content_type: str
    width: int | None = None
    height: int | None = None


def _upload_dict(upload) -> dict:
    return {
        "id": upload.pk,
        "name": upload.name,
        "size": upload.size,
        "content_type": upload.content_type,
        "width": upload.width,
        "height": upload.height,
    }


@router.post(
    "/rooms/{room_id}/uploads",
    response={201: UploadOut, 400: Detail, 403: Detail, 404: Detail, 429: Detail},
)
def upload_create(request, room_id: int, file: File[UploadedFile]):
    """Store one file in the room, not yet sent; answers its id for `attachments`."""
    room = access.room_get_visible(user=request.auth, room_id=room_id)
    upload = attachments.upload_create(room=room, uploader=request.auth, upload=file)
    return Status(201, _upload_dict(upload))


@router.post(
    "/rooms/{room_id}/messages/files",
    response={201: MessageOut, 400: Detail, 403: Detail, 404: Detail, 429: Detail},
)
def message_post_with_files(
    request,
    room_id: int,
    body: Form[str] = "",
    client_id: Form[str | None] = None,
    reply_to: Form[int | None] = None,
    thread_only: Form[bool | None] = None,
):
    """Upload the `file` fields and send them with `body` as one message, all or
    nothing. Repeating a `client_id` answers the message already sent (files are then
    not stored again)."""
    for name, value in (("body", body), ("client_id", client_id)):
        if value is not None:
            try:
                check_text(value, field=name)
            except UnsafeInput as exc:
                raise InvalidInput(str(exc)) from None
    room = access.room_get_visible(user=request.auth, room_id=room_id)
    files = request.FILES.getlist("file")
    if not files:
        raise InvalidInput("Attach at least one file (form field 'file').")
    if len(files) > settings.CHAT_FILES_PER_MESSAGE:
        limit = settings.CHAT_FILES_PER_MESSAGE
        raise InvalidInput(f"A message takes at most {limit} files; this one has {len(files)}.")
    existing = services.message_existing(room=room, author=request.auth, client_id=client_id)
    if existing is not None:
        return Status(201, wire.message_dict(existing))
    uploads: list = []
    try:
        with transaction.atomic():
            for upload in files:
                uploads.append(
                    attachments.upload_create(room=room, uploader=request.auth, upload=upload)
                )
            message, _ = services.message_post(
                room=room,
                author=request.auth,
                body=body,
                client_id=client_id,
                reply_to=reply_to,
                thread_only=thread_only,
                attachments=[u.pk for u in uploads],
            )
    except BaseException:
        attachments.forget_stored(uploads)  # rolled back: their bytes go too
        raise
    return Status(201, wire.message_dict(message))
