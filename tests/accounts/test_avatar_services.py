"""Avatar uploads through accounts.services.avatar_set: what is taken (judged by its
bytes, never by its name or content type), what is stored (only a re-drawn 128x128 PNG
under a generated name), and that a refusal changes nothing."""

from __future__ import annotations

import os
import re

import hypothesis
import pytest
from hypothesis import HealthCheck, given
from hypothesis import strategies as st

from accounts import avatars, services
from rooms.errors import InvalidInput
from tests.accounts.images import (
    MARKER,
    decoded,
    gif_with_script_comment,
    image_bytes,
    jpeg_with_exif,
    png_chunk,
    png_with_bad_crc,
    png_with_text,
    upload,
)

STORED_NAME = re.compile(r"avatars/\d+-[0-9a-f]{16}\.png")


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


def stored_files(media_root) -> list[str]:
    return sorted(
        os.path.relpath(os.path.join(folder, name), media_root)
        for folder, _, names in os.walk(media_root)
        for name in names
    )


def stored_bytes(user) -> bytes:
    with user.avatar.open("rb") as stored:
        return stored.read()


# --- accepted ----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP"])
def test_each_accepted_format_becomes_a_128_pixel_square_png(alice, media_root, fmt):
    services.avatar_set(user=alice, upload=upload(image_bytes(fmt, size=(300, 200))))

    alice.refresh_from_db()
    assert STORED_NAME.fullmatch(alice.avatar.name)
    thumbnail = decoded(stored_bytes(alice))
    assert (thumbnail.format, thumbnail.size) == ("PNG", (128, 128))
    assert stored_files(media_root) == [alice.avatar.name]


def test_the_client_name_and_content_type_are_never_used(alice, media_root):
    services.avatar_set(
        user=alice,
        upload=upload(image_bytes("JPEG"), name="../../evil.html", content_type="text/html"),
    )

    alice.refresh_from_db()
    assert STORED_NAME.fullmatch(alice.avatar.name)
    assert "evil" not in alice.avatar.name


def test_no_byte_of_the_original_png_is_kept(alice, media_root):
    original = png_with_text()
    services.avatar_set(user=alice, upload=upload(original))

    stored = stored_bytes(alice)
    assert MARKER not in stored
    assert stored != original
    assert decoded(stored).text == {}


def test_a_jpeg_loses_its_exif_and_is_turned_upright(alice, media_root):
    services.avatar_set(user=alice, upload=upload(jpeg_with_exif(), name="photo.jpg"))

    stored = stored_bytes(alice)
    assert MARKER not in stored
    thumbnail = decoded(stored)
    assert not thumbnail.getexif()
    top, bottom = thumbnail.getpixel((64, 10)), thumbnail.getpixel((64, 117))
    assert top[0] > 150 > top[2], top  # red
    assert bottom[2] > 150 > bottom[0], bottom  # blue


def test_a_new_avatar_replaces_the_old_file_once_committed(
    alice, media_root, django_capture_on_commit_callbacks
):
    services.avatar_set(user=alice, upload=upload(image_bytes("PNG")))
    first = alice.avatar.name
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.avatar_set(user=alice, upload=upload(image_bytes("GIF")))
    assert first in stored_files(media_root)  # still served until the change commits

    for callback in callbacks:
        callback()
    alice.refresh_from_db()
    assert alice.avatar.name != first
    assert stored_files(media_root) == [alice.avatar.name]


def test_removing_the_avatar_deletes_its_file(
    alice, media_root, django_capture_on_commit_callbacks
):
    services.avatar_set(user=alice, upload=upload(image_bytes("PNG")))
    with django_capture_on_commit_callbacks(execute=True):
        services.avatar_remove(user=alice)

    alice.refresh_from_db()
    assert not alice.avatar
    assert stored_files(media_root) == []


def test_removing_no_avatar_is_harmless(alice, media_root):
    services.avatar_remove(user=alice)
    alice.refresh_from_db()
    assert not alice.avatar


# --- refused -----------------------------------------------------------------------------

PNG = image_bytes("PNG", size=(20, 20))
GIF = image_bytes("GIF", size=(20, 20))
REFUSED = {
    "html named png": (b"<!doctype html><html><script>alert(1)</script></html>", "Upload a PNG"),
    "svg named png": (
        b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect/></svg>',
        "Upload a PNG",
    ),
    "text named png": (b"just some words, not an image\n", "Upload a PNG"),
    "empty": (b"", "empty"),
    "bmp": (image_bytes("BMP", size=(20, 20)), "Upload a PNG"),
    "tiff": (image_bytes("TIFF", size=(20, 20)), "Upload a PNG"),
    "ico": (image_bytes("ICO", size=(20, 20)), "Upload a PNG"),
    "bad png signature": (b"\x89PNX" + PNG[4:], "Upload a PNG"),
    "png header only": (PNG[:33], "Upload a PNG"),
    "truncated png": (PNG[: len(PNG) // 2], "Upload a PNG"),
    "png with a bad checksum": (png_with_bad_crc(), "Upload a PNG"),
    "truncated jpeg": (image_bytes("JPEG")[:400], "Upload a PNG"),
    "png then html": (PNG + b"<html><script>alert(1)</script></html>", "more than an image"),
    "png then a gif": (PNG + GIF, "more than an image"),
    "gif then a png": (GIF + PNG, "more than an image"),
    "png then a zip": (PNG + b"PK\x03\x04" + b"\x00" * 30, "more than an image"),
    "png with html in a chunk": (
        PNG[:-12] + png_chunk(b"tEXt", b"c\x00<html><body>hi</body></html>") + PNG[-12:],
        "more than an image",
    ),
    "gif with a script comment": (gif_with_script_comment(), "more than an image"),
    "webp then bytes": (image_bytes("WEBP", size=(20, 20)) + b"tail", "more than an image"),
}


@pytest.mark.parametrize(("content", "says"), REFUSED.values(), ids=REFUSED.keys())
def test_a_file_that_is_not_only_an_accepted_image_is_refused(alice, media_root, content, says):
    with pytest.raises(InvalidInput, match=says):
        services.avatar_set(user=alice, upload=upload(content))
    alice.refresh_from_db()
    assert not alice.avatar
    assert stored_files(media_root) == []


def test_a_file_over_the_size_limit_is_refused(alice, media_root, settings):
    content = image_bytes("PNG", size=(64, 64), noisy=True)
    settings.CHAT_AVATAR_MAX_BYTES = len(content) - 1
    with pytest.raises(InvalidInput, match="at most"):
        services.avatar_set(user=alice, upload=upload(content))

    settings.CHAT_AVATAR_MAX_BYTES = len(content)
    services.avatar_set(user=alice, upload=upload(content))


def test_the_default_size_limit_is_two_megabytes(alice, media_root):
    with pytest.raises(InvalidInput, match="at most 2 MB"):
        services.avatar_set(user=alice, upload=upload(PNG + b"\x00" * (2 * 1024 * 1024)))


def test_an_image_over_the_dimension_limit_is_refused(alice, media_root, settings):
    settings.CHAT_AVATAR_MAX_DIMENSION = 64
    with pytest.raises(InvalidInput, match="64×64 pixels"):
        services.avatar_set(user=alice, upload=upload(image_bytes("PNG", size=(65, 10))))
    services.avatar_set(user=alice, upload=upload(image_bytes("PNG", size=(64, 64))))


def test_a_refusal_keeps_the_current_avatar(alice, media_root):
    services.avatar_set(user=alice, upload=upload(image_bytes("PNG")))
    before = alice.avatar.name
    content = stored_bytes(alice)

    with pytest.raises(InvalidInput):
        services.avatar_set(user=alice, upload=upload(b"<svg/>"))

    assert alice.avatar.name == before
    alice.refresh_from_db()
    assert alice.avatar.name == before
    assert stored_bytes(alice) == content
    assert stored_files(media_root) == [before]


def test_a_failed_save_leaves_no_file_behind(alice, media_root, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(services, "_replace_avatar", broken)
    with pytest.raises(RuntimeError):
        services.avatar_set(user=alice, upload=upload(image_bytes("PNG")))
    assert stored_files(media_root) == []
    assert not alice.avatar


# --- fuzz --------------------------------------------------------------------------------

FUZZ = hypothesis.settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SEEDS = [image_bytes(fmt, size=(12, 9)) for fmt in ("PNG", "JPEG", "GIF", "WEBP")]


@st.composite
def mutated_images(draw):
    """A real image with a few bytes changed, cut short or extended: the files that get
    furthest into Pillow's parsers."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    cut = draw(st.integers(1, len(data)))
    return bytes(data[:cut]) + draw(st.binary(max_size=16))


@FUZZ
@given(content=st.binary(max_size=2048) | mutated_images())
def test_any_bytes_are_a_thumbnail_or_a_sentence(content):
    try:
        thumbnail = avatars.make_thumbnail(upload(content))
    except InvalidInput as exc:
        assert exc.detail.endswith(".")
    else:
        assert decoded(thumbnail.content).size == (128, 128)
