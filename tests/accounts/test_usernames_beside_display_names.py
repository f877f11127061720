"""Server-rendered pages show the @username beside a display name wherever a person is
named (the profile, the Mentions page, search results, the user search), so a display
name cannot pass for someone else. Display names are isolated (<bdi>), so a
right-to-left name cannot reorder the handle beside it. The room page's messages and
member list are drawn by its script: tests/e2e/test_names_in_browser.py."""

from __future__ import annotations

import re

import pytest

from rooms import services
from tests.factories import RoomFactory, UserFactory

pytestmark = pytest.mark.django_db


def shown_as(html: str, display_name: str, username: str) -> bool:
    """The display name, then (with only markup and spaces between) its @username."""
    pattern = re.escape(display_name) + r"(?:\s|<[^>]*>)*@" + re.escape(username) + r"\b"
    return re.search(pattern, html) is not None


@pytest.fixture
def impostor(db):
    # Old data: a display name copying alice's, from before the rule (accounts/names.py).
    return UserFactory(username="mallory", display_name="Alice")


def test_the_profile_shows_the_username_under_the_display_name(client, alice, impostor):
    client.force_login(alice)
    html = client.get("/accounts/users/mallory/").content.decode()
    assert '<bdi class="shown-name">Alice</bdi>' in html
    assert shown_as(html, "Alice", "mallory")


def test_the_mentions_page_names_each_author_with_their_username(client, alice, impostor):
    room = RoomFactory(name="Garden", creator=alice)
    services.room_join(room=room, user=impostor)
    services.message_post(room=room, author=impostor, body="@alice your password please")
    client.force_login(alice)
    html = client.get("/mentions/").content.decode()
    assert shown_as(html, "Alice", "mallory")


def test_search_results_name_each_author_with_their_username(client, room, alice, impostor):
    services.room_join(room=room, user=impostor)
    services.message_post(room=room, author=impostor, body="kumquats for everyone")
    services.message_post(room=room, author=alice, body="kumquats? no thanks")
    client.force_login(alice)
    html = client.get("/search/", {"q": "kumquats"}).content.decode()
    assert shown_as(html, "Alice", "mallory") and shown_as(html, "Alice", "alice")


def test_the_user_search_names_each_user_with_their_username(client, alice, impostor):
    client.force_login(alice)
    html = client.get("/accounts/users/", {"q": "ali"}).content.decode()
    assert shown_as(html, "Alice", "mallory") and shown_as(html, "Alice", "alice")
