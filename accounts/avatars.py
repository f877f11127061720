"""Avatar images: what an upload must be, the thumbnail made of it, and the initials
shown when there is none.

An upload is judged by its bytes alone (its name and content type are the client's
word and never read). Pillow must recognise it as PNG, JPEG, GIF or WebP, verify it
and decode it whole; then a square PNG thumbnail is drawn from the pixels. Only that
thumbnail is stored and served, so nothing of the original (EXIF and other metadata,
bytes appended for another parser) ever leaves the site. Files that look made to be
read as something else as well (markup inside, data past a PNG, GIF or WebP's end) are
refused outright: they are no one's real photo.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import struct
import warnings
from dataclasses import dataclass

from django.conf import settings
from django.urls import reverse
from PIL import Image, ImageOps

from rooms.errors import InvalidInput

logger = logging.getLogger(__name__)

THUMBNAIL_SIZE = 128
CONTENT_TYPE = "image/png"
ACCEPTED_FORMATS = ("PNG", "JPEG", "GIF", "WEBP")
# MPO is the multi-picture JPEG some cameras write; its first picture is a plain JPEG.
_FORMAT_ALIASES = {"MPO": "JPEG"}
# Markup a browser or an interpreter would run, anywhere in the file.
_MARKUP = re.compile(
    rb"<(?:script|html|body|svg|iframe|object|embed|\?php|!doctype)\b|javascript:", re.I
)
# How many hues the initials fallback draws from (static/css/site.css, .avatar.hue-N):
# a class, since the Content-Security-Policy allows no inline style.
HUES = 12

UNREADABLE = "Upload a PNG, JPEG, GIF or WebP image."
NOT_ONLY_AN_IMAGE = (
    "The file holds more than an image; save it again from an image editor and upload that."
)


@dataclass(frozen=True)
class Thumbnail:
    """A square PNG drawn from an accepted upload: the only bytes ever stored."""

    content: bytes


def make_thumbnail(upload) -> Thumbnail:
    """The thumbnail of an uploaded file (anything with `size` and `read()`, such as
    Django's UploadedFile), or InvalidInput saying in a sentence what is wrong."""
    max_bytes = settings.CHAT_AVATAR_MAX_BYTES
    size = getattr(upload, "size", None)
    if size is not None and size > max_bytes:
        raise InvalidInput(_too_big(max_bytes))
    if hasattr(upload, "seek"):
        upload.seek(0)
    data = upload.read(max_bytes + 1)
    if not isinstance(data, bytes):
        raise InvalidInput(UNREADABLE)
    if len(data) > max_bytes:
        raise InvalidInput(_too_big(max_bytes))
    if not data:
        raise InvalidInput("The file is empty.")
    image_format = _check_image(data)
    if _MARKUP.search(data) or _has_data_after_the_end(data, image_format):
        raise InvalidInput(NOT_ONLY_AN_IMAGE)
    return Thumbnail(_draw(data))


def _too_big(max_bytes: int) -> str:
    return f"The image must be at most {_human_size(max_bytes)}."


def _human_size(size: int) -> str:
    if size >= 1024 * 1024 and size % (1024 * 1024) == 0:
        return f"{size // (1024 * 1024)} MB"
    if size >= 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size} bytes"


def _open(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data), formats=list(ACCEPTED_FORMATS))


def _check_image(data: bytes) -> str:
    """The image's format, once Pillow has recognised and verified it and its size is
    within CHAT_AVATAR_MAX_DIMENSION."""
    max_side = settings.CHAT_AVATAR_MAX_DIMENSION
    try:
        # Pillow warns, then raises, on decompression bombs; the side limit below
        # is far stricter, so the warning says nothing new.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with _open(data) as image:
                image_format = _FORMAT_ALIASES.get(image.format or "", image.format or "")
                width, height = image.size
                if image_format in ACCEPTED_FORMATS and max(width, height) <= max_side:
                    image.verify()
    except Exception:
        # Any exception: Pillow's parsers raise many kinds on hostile bytes (OSError,
        # SyntaxError, ValueError, struct.error, EOFError...), and each means the same
        # thing here, a file that is not an image we take.
        logger.debug("avatar refused: not a readable image", exc_info=True)
        raise InvalidInput(UNREADABLE) from None
    if image_format not in ACCEPTED_FORMATS:
        raise InvalidInput(UNREADABLE)
    if width < 1 or height < 1 or max(width, height) > max_side:
        raise InvalidInput(f"The image must be at most {max_side}×{max_side} pixels.")
    return image_format


def _draw(data: bytes) -> bytes:
    """Decode the whole image (verify() does not) and draw the square thumbnail."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with _open(data) as image:
                if image.format == "JPEG":
                    # Decode at the smallest scale JPEG offers that is still big enough.
                    image.draft("RGB", (THUMBNAIL_SIZE * 2, THUMBNAIL_SIZE * 2))
                image.load()  # the first frame of an animation
                upright = ImageOps.exif_transpose(image)
                square = ImageOps.fit(
                    upright.convert("RGBA"),
                    (THUMBNAIL_SIZE, THUMBNAIL_SIZE),
                    method=Image.Resampling.LANCZOS,
                )
        out = io.BytesIO()
        square.save(out, format="PNG", optimize=True)
    except Exception:  # as in _check_image: a truncated or corrupt image
        logger.debug("avatar refused: the image does not decode", exc_info=True)
        raise InvalidInput(UNREADABLE) from None
    return out.getvalue()


# --- Bytes after the image ---------------------------------------------------------------
# PNG, GIF and WebP say exactly where they end; anything after that end is there for
# some other reader. JPEG is not checked: phones append their own data past the end of
# ordinary photos (motion photos, maker trailers), and the thumbnail drops it anyway.


def _has_data_after_the_end(data: bytes, image_format: str) -> bool:
    try:
        end = {"PNG": _png_end, "GIF": _gif_end, "WEBP": _webp_end}.get(image_format)
        return end is not None and end(data) != len(data)
    except (IndexError, struct.error, ValueError):
        return True  # a structure that does not add up is no image we take


def _png_end(data: bytes) -> int:
    position = 8  # the signature
    while True:
        (length,) = struct.unpack_from(">I", data, position)
        chunk_type = data[position + 4 : position + 8]
        position += 12 + length  # length, type, data, CRC
        if position > len(data):
            raise ValueError("chunk past the end")
        if chunk_type == b"IEND":
            return position


def _gif_end(data: bytes) -> int:
    def skip_sub_blocks(position: int) -> int:
        while data[position] != 0:
            position += 1 + data[position]
        return position + 1

    flags = data[10]
    position = 13  # header and logical screen descriptor
    if flags & 0x80:
        position += 3 * 2 ** ((flags & 0x07) + 1)  # the global colour table
    while True:
        introducer = data[position]
        if introducer == 0x3B:  # trailer
            return position + 1
        if introducer == 0x21:  # extension: label, then sub-blocks
            position = skip_sub_blocks(position + 2)
        elif introducer == 0x2C:  # image descriptor, local colour table, LZW data
            local_flags = data[position + 9]
            position += 10
            if local_flags & 0x80:
                position += 3 * 2 ** ((local_flags & 0x07) + 1)
            position = skip_sub_blocks(position + 1)
        else:
            raise ValueError("unknown GIF block")


def _webp_end(data: bytes) -> int:
    (riff_size,) = struct.unpack_from("<I", data, 4)
    return 8 + riff_size + (riff_size & 1)


# --- Serving ---------------------------------------------------------------------------


def version(user) -> str:
    """What changes whenever the avatar does: its generated file name."""
    return user.avatar.name.rsplit("/", 1)[-1].removesuffix(".png")


def url(user) -> str | None:
    """Where the avatar is served, with its version in the query (so a page may cache
    it for good), or None for a user with none."""
    if not user.avatar:
        return None
    return f"{reverse('accounts:avatar', args=[user.username])}?v={version(user)}"


# --- The fallback ------------------------------------------------------------------------


def initials(user) -> str:
    """One or two letters for a user with no avatar: the first letters of the first
    and last words of the display name (the username when there is none)."""
    words = (user.display_name or user.username).split() or [user.username]
    letters = words[0][:1] + (words[-1][:1] if len(words) > 1 else "")
    return letters.upper()


def hue(username: str) -> int:
    """A stable colour bucket for a username, 0 to HUES - 1 (the same on every process:
    Python's hash() is salted per process)."""
    return hashlib.sha256(username.encode()).digest()[0] % HUES
