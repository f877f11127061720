"""Image files for the avatar tests, made with Pillow in memory: real ones in each
accepted format, and the kinds of file an attacker would name avatar.png."""

from __future__ import annotations

import io
import random
import zlib

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, PngImagePlugin

MARKER = b"secret-marker-from-the-original"


def image_bytes(fmt: str = "PNG", size=(300, 200), *, noisy: bool = False, **save) -> bytes:
    image = Image.new("RGB", size, (200, 30, 40))
    if noisy:  # incompressible pixels: a file as large as its dimensions allow
        rng = random.Random(7)
        image.putdata(
            [tuple(rng.randrange(256) for _ in range(3)) for _ in range(size[0] * size[1])]
        )
    out = io.BytesIO()
    image.save(out, format=fmt, **save)
    return out.getvalue()


def png_with_text() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", MARKER.decode())
    return image_bytes("PNG", pnginfo=info)


RED, BLUE = (220, 20, 20), (20, 20, 220)


def jpeg_with_exif() -> bytes:
    """A photo stored on its side, as phones do: red on the left, blue on the right,
    and an EXIF orientation saying to turn it 90 degrees clockwise (red on top)."""
    image = Image.new("RGB", (300, 200), RED)
    image.paste(BLUE, (150, 0, 300, 200))
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to show upright
    exif[0x010F] = MARKER.decode()  # Make
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes(), quality=95)
    return out.getvalue()


def gif_with_script_comment() -> bytes:
    """A valid GIF whose comment extension carries a script: HTML to a browser that
    sniffs it as a page."""
    gif = image_bytes("GIF", size=(10, 10))
    comment = b"<script>alert(document.cookie)</script>"
    extension = b"\x21\xfe" + bytes([len(comment)]) + comment + b"\x00"
    return gif[:-1] + extension + b"\x3b"  # before the trailer


def png_with_bad_crc() -> bytes:
    data = bytearray(image_bytes("PNG", size=(20, 20)))
    ihdr_crc = 8 + 8 + 13  # signature, IHDR length and type, IHDR data
    data[ihdr_crc] ^= 0xFF
    return bytes(data)


def png_chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body).to_bytes(4, "big")
    return len(body).to_bytes(4, "big") + kind + body + crc


def upload(content: bytes, name: str = "avatar.png", content_type: str = "image/png"):
    return SimpleUploadedFile(name, content, content_type=content_type)


def decoded(content: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(content))
    image.load()
    return image
