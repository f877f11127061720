"""Property-based fuzz of the CSRF check as an ASGI request meets it.

Under ASGI the check is chatsite.middleware.InlineCsrfViewMiddleware: a safe method is
let through in the event loop, an unsafe one is checked in the sync thread. Whatever
token (form field or header), Origin and Referer an unsafe request to a form carries,
a wrong one is refused with 403 and nothing changes; no request answers 500. The
requests go through Django's async handler (AsyncClient), as daphne's do."""

from __future__ import annotations

from urllib.parse import quote_from_bytes

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PATH = "/accounts/profile/"
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")

# Header values travel as latin-1: control characters and NUL included.
HEADER_TEXT = st.text(st.characters(max_codepoint=255), max_size=120)
# A form field may be any bytes, bad UTF-8 included.
FIELD_BYTES = st.one_of(
    st.binary(max_size=200),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=200).map(str.encode),
    st.sampled_from([b"", b"\x00" * 64, b"\xed\xa0\x80", b"a" * 32, b"A" * 64, b"x" * 10_000]),
)
ORIGINS = st.one_of(
    st.none(),
    st.sampled_from(
        ["null", "http://testserver", "https://testserver", "http://evil.example", "file://"]
    ),
    HEADER_TEXT,
)


async def _request(client: AsyncClient, method: str, body: bytes, headers: dict[str, str]):
    return await client.generic(
        method, PATH, body, content_type="application/x-www-form-urlencoded", headers=headers
    )


@pytest.fixture
def world(db):
    user = UserFactory(username="csrfuzz", display_name="Before", bio="unchanged")
    client = AsyncClient(enforce_csrf_checks=True)
    client.force_login(user)
    async_to_sync(client.get)(PATH)  # the csrftoken cookie, as a browser would hold it
    assert client.cookies.get("csrftoken") is not None
    return {"user": user, "client": client}


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    method=st.sampled_from(UNSAFE),
    token=st.one_of(st.none(), FIELD_BYTES),
    header_token=st.one_of(st.none(), HEADER_TEXT),
    origin=ORIGINS,
    referer=st.one_of(st.none(), HEADER_TEXT, st.just("http://testserver/accounts/profile/")),
    name=FIELD_BYTES,
)
def test_an_unsafe_request_with_a_wrong_token_is_refused_and_changes_nothing(
    world, method, token, header_token, origin, referer, name
):
    body = b"display_name=" + quote_from_bytes(name).encode() + b"&bio=changed"
    if token is not None:
        body += b"&csrfmiddlewaretoken=" + quote_from_bytes(token).encode()
    headers = {}
    for header, value in (("X-CSRFToken", header_token), ("Origin", origin), ("Referer", referer)):
        if value is not None:
            headers[header] = value
    response = async_to_sync(_request)(world["client"], method, body, headers)
    assert response.status_code == 403, (response.status_code, response.content[:300])
    user = User.objects.get(pk=world["user"].pk)
    assert (user.display_name, user.bio) == ("Before", "unchanged")


def test_the_same_request_with_the_cookie_s_token_is_accepted(world):
    """The control: the fuzz above is refused for its token, not for its shape."""
    token = world["client"].cookies["csrftoken"].value
    body = f"display_name=After&bio=changed&csrfmiddlewaretoken={token}".encode()
    response = async_to_sync(_request)(world["client"], "POST", body, {})
    assert response.status_code == 302
    user = User.objects.get(pk=world["user"].pk)
    assert (user.display_name, user.bio) == ("After", "changed")
