"""Files attached to messages: what an upload is (sniffed from its bytes), its
thumbnail, where it is kept, and how it joins, and leaves, a message.

Two steps, whatever the door: `upload_create` stores a file in a room as an *upload*
(no message yet) and answers its id, a random token; `message_post` (rooms.services)
takes up to CHAT_FILES_PER_MESSAGE such ids and makes them the message's attachments,
in the same transaction that stores the message. An upload not sent within
CHAT_UPLOAD_UNUSED_TTL seconds is removed (`uploads_remove_unused`).

The bytes go through Django's default storage only (STORAGES["default"]: the file
system under MEDIA_ROOT, or an S3-compatible store), under names made of the room id
and the token, never of anything the client wrote. The client's file name is kept,
cleaned, for display and for the download's Content-Disposition; its content type is
never read: `sniff` decides it. Only PNG, JPEG, GIF and WebP that Pillow decodes are
images (shown inline, with a thumbnail); everything else, SVG and HTML above all, is
served as a download (rooms/file_views.py).
"""

from __future__ import annotations

import io
import logging
import re
import unicodedata
import warnings
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone
from PIL import Image, ImageOps

from accounts.models import User
from rooms import access
from rooms.errors import InvalidInput
from rooms.file_text import human_size
from rooms.models import Attachment, Message, Room

logger = logging.getLogger(__name__)

NAME_MAX_LENGTH = 255
THUMBNAIL_MAX = 360  # the longest side of a thumbnail, in pixels
# Sniffed image formats shown inline, and their content types.
IMAGE_TYPES = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "GIF": "image/gif",
    "WEBP": "image/webp",
}
INLINE_TYPES = frozenset(IMAGE_TYPES.values())
_FORMAT_ALIASES = {"MPO": "JPEG"}
# Markup a browser would render: such files are labelled as what they are, and never
# served inline (rooms/file_views.py).
_HTML = re.compile(rb"<(?:!doctype\s+html|html|head|body|script|iframe)\b", re.I)
_SVG = re.compile(rb"<svg\b", re.I)
_SIGNATURES = (
    (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),
    (b"\x1f\x8b", "application/gzip"),
)
_UNSAFE_NAME_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029/\\\\\ud800-\udfff]")


@dataclass(frozen=True)
class Sniffed:
    content_type: str
    image_format: str | None = None
    width: int | None = None
    height: int | None = None


# --- what a file is ----------------------------------------------------------------------


def sniff(data: bytes) -> Sniffed:
    """The content type of `data`, from its bytes alone. An image is one Pillow
    recognises as PNG, JPEG, GIF or WebP within CHAT_IMAGE_MAX_PIXELS; a bigger one is
    refused (a decompression bomb), a broken one is just a file."""
    image = _sniff_image(data)
    if image is not None:
        return image
    head = data[:4096]
    for signature, content_type in _SIGNATURES:
        if head.startswith(signature):
            return Sniffed(content_type)
    if _SVG.search(head):
        return Sniffed("image/svg+xml")
    if _HTML.search(head):
        return Sniffed("text/html")
    if b"\x00" not in head and _is_utf8(head):
        return Sniffed("text/plain")
    return Sniffed("application/octet-stream")


def _is_utf8(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the 4 KiB boundary is still text.
        return exc.start >= len(head) - 3
    return True


def _sniff_image(data: bytes) -> Sniffed | None:
    max_pixels = settings.CHAT_IMAGE_MAX_PIXELS
    # Pillow's own guard too (it raises at twice its limit), for every image decoded.
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=list(IMAGE_TYPES) + ["MPO"]) as image:
                image_format = _FORMAT_ALIASES.get(image.format or "", image.format or "")
                width, height = image.size
                if width * height > max_pixels:
                    raise _Bomb()
                image.verify()
    except (_Bomb, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidInput(
            f"The image has too many pixels (at most {max_pixels:,} are taken)."
        ) from None
    except Exception:
        # Pillow raises many kinds on bytes that are not an image it reads: each means
        # the same here, a file that is not one of the images we show.
        return None
    if image_format not in IMAGE_TYPES or width < 1 or height < 1:
        return None
    return Sniffed(IMAGE_TYPES[image_format], image_format, width, height)


class _Bomb(Exception):
    pass


def thumbnail_of(data: bytes, sniffed: Sniffed) -> bytes | None:
    """A thumbnail (longest side THUMBNAIL_MAX) of a sniffed image, upright, without
    its metadata: JPEG for a JPEG, PNG for the rest (which may be transparent). None
    when the pixels do not decode (truncated data that verify() let through): the
    file is then offered as a download, not shown."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=list(IMAGE_TYPES) + ["MPO"]) as image:
                if sniffed.image_format == "JPEG":
                    image.draft("RGB", (THUMBNAIL_MAX * 2, THUMBNAIL_MAX * 2))
                image.load()  # the first frame of an animation
                upright = ImageOps.exif_transpose(image)
                if sniffed.image_format == "JPEG":
                    upright = upright.convert("RGB")
                else:
                    upright = upright.convert("RGBA")
                upright.thumbnail((THUMBNAIL_MAX, THUMBNAIL_MAX), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        if sniffed.image_format == "JPEG":
            upright.save(out, format="JPEG", quality=85)
        else:
            upright.save(out, format="PNG", optimize=True)
    except Exception:
        logger.debug("attachment image did not decode", exc_info=True)
        return None
    return out.getvalue()


def thumbnail_size(width: int, height: int) -> tuple[int, int]:
    """The box a thumbnail of a width x height image takes (as Pillow's thumbnail())."""
    scale = min(1.0, THUMBNAIL_MAX / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def clean_name(name: object) -> str:
    """The client's file name, safe to show and to put in a header: the last path
    segment, without controls, NUL, lone surrogates or slashes, at most
    NAME_MAX_LENGTH characters (the extension kept), "file" when nothing is left."""
    if not isinstance(name, str):
        name = ""
    name = unicodedata.normalize("NFC", name.replace("\\", "/").rsplit("/", 1)[-1])
    name = _UNSAFE_NAME_CHARACTERS.sub("", name).strip().strip(".")
    if len(name) > NAME_MAX_LENGTH:
        stem, dot, extension = name.rpartition(".")
        if dot and 0 < len(extension) <= 16:
            name = stem[: NAME_MAX_LENGTH - len(extension) - 1] + "." + extension
        else:
            name = name[:NAME_MAX_LENGTH]
    return name or "file"


# --- uploads -------------------------------------------------------------------------------


def upload_create(*, room: Room, uploader: User, upload) -> Attachment:
    """Store one uploaded file (anything with `name`, `size` and `read()`, such as
    Django's UploadedFile) in `room` as an upload of `uploader`, not yet part of a
    message. The caller has read the room through rooms.access.room_get_visible; the
    post rules (archived, locked, muted) apply here too. Refused with InvalidInput
    (400) over CHAT_UPLOAD_MAX_BYTES or the user's CHAT_UPLOAD_BYTES_PER_DAY."""
    from rooms import selectors, services  # services calls this module

    access.check_can_write(
        user=uploader, room=room, membership=selectors.membership_get(user=uploader, room=room)
    )
    max_bytes = settings.CHAT_UPLOAD_MAX_BYTES
    size = getattr(upload, "size", None)
    if isinstance(size, int) and size > max_bytes:
        raise InvalidInput(_too_big(max_bytes))
    if hasattr(upload, "seek"):
        upload.seek(0)
    data = upload.read(max_bytes + 1)
    if not isinstance(data, bytes):
        raise InvalidInput("The upload is not a file.")
    if len(data) > max_bytes:
        raise InvalidInput(_too_big(max_bytes))
    if not data:
        raise InvalidInput("The file is empty.")
    services.throttle(f"uploads:{uploader.pk}", limit=60, per_seconds=60)
    _remove_unused_of(uploader)
    _check_daily_quota(uploader=uploader, adding=len(data))
    sniffed = sniff(data)
    thumbnail = thumbnail_of(data, sniffed) if sniffed.image_format else None
    if sniffed.image_format and thumbnail is None:
        sniffed = Sniffed("application/octet-stream")
    attachment = Attachment(
        room=room,
        uploader=uploader,
        name=clean_name(getattr(upload, "name", "")),
        size=len(data),
        content_type=sniffed.content_type,
        width=sniffed.width,
        height=sniffed.height,
    )
    base = f"attachments/{room.pk}/{attachment.pk}"
    attachment.file = default_storage.save(base, ContentFile(data))
    try:
        if thumbnail is not None:
            attachment.thumbnail = default_storage.save(f"{base}-thumb", ContentFile(thumbnail))
        attachment.save(force_insert=True)
    except BaseException:
        _delete_stored([attachment.file, attachment.thumbnail])
        raise
    return attachment


def _too_big(max_bytes: int) -> str:
    return f"The file is larger than the limit of {human_size(max_bytes)} ({max_bytes} bytes)."


def _check_daily_quota(*, uploader: User, adding: int) -> None:
    limit = settings.CHAT_UPLOAD_BYTES_PER_DAY
    since = timezone.now() - timedelta(days=1)
    used = (
        Attachment.objects.filter(uploader=uploader, created__gte=since).aggregate(
            total=Sum("size")
        )["total"]
        or 0
    )
    if used + adding > limit:
        raise InvalidInput(
            f"You can upload {human_size(limit)} a day; {human_size(max(0, limit - used))} "
            "are left for now. Try again later or send a smaller file."
        )


def _remove_unused_of(uploader: User) -> None:
    _remove(
        Attachment.objects.filter(uploader=uploader, message__isnull=True, created__lt=_stale())
    )


def _stale():
    return timezone.now() - timedelta(seconds=settings.CHAT_UPLOAD_UNUSED_TTL)


def uploads_remove_unused() -> int:
    """Remove every upload not sent with a message within CHAT_UPLOAD_UNUSED_TTL
    seconds (rows now, files after commit). Returns how many."""
    return _remove(Attachment.objects.filter(message__isnull=True, created__lt=_stale()))


def _remove(queryset) -> int:
    with transaction.atomic():
        rows = list(queryset.values_list("pk", "file", "thumbnail"))
        if not rows:
            return 0
        Attachment.objects.filter(pk__in=[pk for pk, _, _ in rows]).delete()
        names = [name for _, file, thumb in rows for name in (file, thumb)]
        transaction.on_commit(lambda: _delete_stored(names))
    return len(rows)


def forget_stored(uploads: list[Attachment]) -> None:
    """Delete the stored bytes of uploads whose rows a rollback took away."""
    _delete_stored([name for a in uploads for name in (a.file, a.thumbnail)])


def _delete_stored(names: list[str]) -> None:
    for name in names:
        if not name:
            continue
        try:
            default_storage.delete(name)
        except Exception:  # a store that is down: the file is orphaned, not the request
            logger.warning("could not delete stored file %s", name, exc_info=True)


# --- joining and leaving a message ---------------------------------------------------------


def clean_upload_ids(value: object) -> list[str]:
    """None or a list of upload ids (strings), at most CHAT_FILES_PER_MESSAGE, each once."""
    if value is None:
        return []
    limit = settings.CHAT_FILES_PER_MESSAGE
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput("attachments must be a list of upload ids (strings).")
    ids = list(dict.fromkeys(value))
    if len(ids) > limit:
        raise InvalidInput(f"A message takes at most {limit} files; this one has {len(ids)}.")
    if any(not 1 <= len(v) <= 40 for v in ids):
        raise InvalidInput("attachments holds something that is not an upload id.")
    return ids


def uploads_for_post(*, room: Room, author: User, ids: list[str]) -> list[Attachment]:
    """The author's unsent uploads in `room` named by `ids`, in that order; InvalidInput
    when any is not one (someone else's, another room's, already sent, or expired)."""
    if not ids:
        return []
    found = {
        a.pk: a
        for a in Attachment.objects.filter(
            pk__in=ids, room=room, uploader=author, message__isnull=True
        )
    }
    if len(found) != len(ids):
        raise InvalidInput(
            "attachments names an upload that is not yours to send here, was already "
            "sent, or has expired; upload the file again."
        )
    return [found[i] for i in ids]


def summaries(uploads: list[Attachment]) -> list[dict[str, Any]]:
    """What Message.attachments keeps of each (the wire adds the URLs)."""
    return [
        {
            "id": a.pk,
            "name": a.name,
            "size": a.size,
            "content_type": a.content_type,
            **({"width": a.width, "height": a.height} if a.thumbnail else {}),
        }
        for a in uploads
    ]


def attach(*, uploads: list[Attachment], message: Message) -> None:
    """Make the uploads the message's attachments; inside message_post's transaction.
    An upload sent meanwhile by a race (another tab) rolls the whole post back."""
    if not uploads:
        return
    claimed = Attachment.objects.filter(
        pk__in=[a.pk for a in uploads], message__isnull=True
    ).update(message=message)
    if claimed != len(uploads):
        raise InvalidInput("An upload of this message was already sent; upload it again.")


def message_files_remove(message: Message) -> None:
    """A deleted message takes its files with it: rows now, stored bytes after
    commit. Runs inside the deleting transaction (rooms.changes.message_delete)."""
    message.attachments = []
    _remove(Attachment.objects.filter(message=message))


# --- the wire ------------------------------------------------------------------------------


def wire_list(message: Message) -> list[dict[str, Any]]:
    """The message's attachments as clients see them (rooms.wire), with the URLs of
    the permission-checked file view. No query: built from Message.attachments."""
    if message.deleted or not message.attachments:
        return []
    out = []
    for item in message.attachments:
        entry = {
            "id": item["id"],
            "name": item["name"],
            "size": item["size"],
            "content_type": item["content_type"],
            "url": reverse("rooms:attachment", args=[item["id"]]),
        }
        if item.get("width") and item.get("height"):
            thumb_width, thumb_height = thumbnail_size(item["width"], item["height"])
            entry.update(
                width=item["width"],
                height=item["height"],
                thumbnail_url=reverse("rooms:attachment_thumbnail", args=[item["id"]]),
                thumbnail_width=thumb_width,
                thumbnail_height=thumb_height,
            )
        out.append(entry)
    return out
