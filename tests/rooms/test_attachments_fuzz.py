"""Property-based fuzz of the upload endpoints (POST /api/rooms/{id}/uploads and
/messages/files) and of `attachments` in a message post: hostile file names (NUL,
lone surrogates as raw bytes, path traversal, huge names, control characters),
arbitrary bytes, form fields of any text, wrong types. Never a 5xx; every refusal a
sentence; whatever is stored has a clean name and a storage name of our making."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rooms.models import Attachment
from tests.conftest import token_for
from tests.factories import RoomFactory, UserFactory
from tests.strategies import json_values

pytestmark = pytest.mark.django_db

BOUNDARY = "fuzz-boundary-7MA4YWxkTrZu0gW"
HOSTILE_NAMES = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "../../../etc/passwd",
            "..\\..\\windows\\win.ini",
            "/absolute/path.png",
            "a\x00b.png",
            "\ud800.png",
            "x" * 5000 + ".png",
            "",
            ".",
            "..",
            "name\r\nContent-Type: text/html",
            "<script>alert(1)</script>.html",
            "\u202egnp.exe",
        ]
    ),
)
CONTENTS = st.one_of(
    st.binary(max_size=300),
    st.sampled_from(
        [
            b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
            b"<!doctype html><script>alert(1)</script>",
            b"\x89PNG\r\n\x1a\n" + b"\x00" * 40,  # a PNG signature and nothing sound
            b"GIF89a" + b"\xff" * 20,
        ]
    ),
)
FIELD_TEXT = st.one_of(st.text(max_size=30), st.sampled_from(["\x00", "\ud800", "x" * 5000]))


def multipart(fields: dict[str, str], files: list[tuple[str, bytes]]) -> bytes:
    """A multipart body written by hand: names go in as raw bytes (surrogates as the
    invalid UTF-8 a hostile client would send), which Django's test client refuses."""
    out = b""
    for name, value in fields.items():
        out += (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value.encode("utf-8", "surrogatepass")
            + b"\r\n"
        )
    for filename, content in files:
        quoted = filename.replace('"', "%22").encode("utf-8", "surrogatepass")
        out += (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="'.encode()
            + quoted
            + b'"\r\nContent-Type: image/png\r\n\r\n'
            + content
            + b"\r\n"
        )
    return out + f"--{BOUNDARY}--\r\n".encode()


@pytest.fixture
def scene(db):
    user = UserFactory(username="fuzzer")
    room = RoomFactory(name="Fuzz", creator=user)
    return room, {"Authorization": f"Bearer {token_for(user)}"}


def check(response) -> None:
    assert response.status_code < 500, response.content
    if response.status_code >= 400:
        detail = json.loads(response.content)["detail"]
        assert isinstance(detail, str) and detail
    for stored in Attachment.objects.all():
        assert stored.file.startswith(f"attachments/{stored.room_id}/")
        assert not any(c in stored.name for c in "/\\\x00\r\n")
        assert 1 <= len(stored.name) <= 255
        stored.name.encode("utf-8")  # no lone surrogate


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    files=st.lists(st.tuples(HOSTILE_NAMES, CONTENTS), max_size=3),
    fields=st.dictionaries(st.sampled_from(["body", "client_id", "reply_to", "file"]), FIELD_TEXT),
    route=st.sampled_from(["uploads", "messages/files"]),
)
def test_uploads_of_any_shape_never_fail_the_server(scene, files, fields, route):
    room, headers = scene
    response = Client().generic(
        "POST",
        f"/api/rooms/{room.pk}/{route}",
        multipart(fields, files),
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
        headers=headers,
    )
    check(response)
    if route == "uploads" and response.status_code == 201:
        assert files  # nothing to store, nothing stored


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(attachments=json_values(text_size=45, max_leaves=6), body=st.one_of(st.none(), FIELD_TEXT))
def test_attachments_of_any_type_in_a_post_are_refused_with_a_reason(scene, attachments, body):
    room, headers = scene
    response = Client().post(
        f"/api/rooms/{room.pk}/messages",
        {"body": body, "attachments": attachments},
        content_type="application/json",
        headers=headers,
    )
    check(response)
    if attachments not in (None, []):
        assert response.status_code != 201  # no upload of this user has such an id


@settings(max_examples=20, deadline=None)
@given(raw=st.binary(max_size=200))
def test_a_broken_multipart_body_is_a_400_not_a_500(raw):
    user = UserFactory()
    room = RoomFactory(creator=user)
    response = Client().generic(
        "POST",
        f"/api/rooms/{room.pk}/uploads",
        raw,
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
        headers={"Authorization": f"Bearer {token_for(user)}"},
    )
    assert response.status_code < 500, response.content
