"""Multipart bodies at the edge (chatsite/request_checks.py): the upload routes parse
them as they stream in; every other API route answers a form with a sentence, never
a 500; a body larger than a message's files may be is a 413 before it is read."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from tests.conftest import token_for
from tests.factories import RoomFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_a_form_posted_to_any_api_route_is_a_4xx_with_a_sentence():
    user = UserFactory()
    room = RoomFactory(creator=user)
    headers = {"Authorization": f"Bearer {token_for(user)}"}
    for path in ["/api/rooms", f"/api/rooms/{room.pk}/messages", "/api/token", "/api/direct"]:
        response = Client().post(
            path, {"body": "x", "file": SimpleUploadedFile("a", b"b")}, headers=headers
        )
        assert 400 <= response.status_code < 500, (path, response.content)
        assert isinstance(response.json()["detail"], str)


def test_an_upload_larger_than_a_message_may_carry_is_refused_before_it_is_read(settings):
    settings.CHAT_UPLOAD_MAX_BYTES = 1000
    settings.CHAT_FILES_PER_MESSAGE = 1
    user = UserFactory()
    room = RoomFactory(creator=user)
    response = Client().post(
        f"/api/rooms/{room.pk}/uploads",
        {"file": SimpleUploadedFile("big", b"x" * 300_000)},
        headers={"Authorization": f"Bearer {token_for(user)}"},
    )
    assert response.status_code == 413
    assert "larger than the limit" in response.json()["detail"]
