"""The Content-Security-Policy header on every page (django-csp, in the event loop for
async requests). tests/e2e/test_content_security_policy.py checks that the pages work
under it in Chromium."""

from __future__ import annotations

import pytest
from django.test import AsyncClient

POLICY = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self' ws: wss:",
    "frame-ancestors 'none'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
)


def directives(response) -> set[str]:
    return {part.strip() for part in response["Content-Security-Policy"].split(";")}


@pytest.mark.parametrize(
    "path", ["/accounts/login/", "/accounts/signup/", "/accounts/password/reset/", "/admin/login/"]
)
def test_anonymous_pages_carry_the_policy(client, db, path):
    response = client.get(path)
    assert response.status_code == 200
    assert directives(response) == set(POLICY)


@pytest.mark.parametrize(
    "path", ["/", "/accounts/profile/", "/accounts/password/", "/accounts/users/alice/"]
)
def test_signed_in_pages_carry_the_policy(client, alice, path):
    client.force_login(alice)
    response = client.get(path)
    assert response.status_code == 200
    assert directives(response) == set(POLICY)


def test_a_room_page_carries_the_policy(client, alice, room):
    client.force_login(alice)
    response = client.get(f"/rooms/{room.id}/")
    assert directives(response) == set(POLICY)


@pytest.mark.django_db(transaction=True)
async def test_an_async_request_carries_it_too(alice):
    client = AsyncClient()
    response = await client.get("/accounts/login/")
    assert directives(response) == set(POLICY)
