"""The site's own 404, 403 and 500 pages (with DEBUG off, as in production and in tests):
no Django debug page listing the URLs, a way back, and the reason where there is one."""

from __future__ import annotations

import pytest
from django.test import Client

from rooms import moderation
from tests.factories import RoomFactory

pytestmark = pytest.mark.django_db


def test_a_missing_room_is_the_sites_404_page(client, alice):
    client.force_login(alice)
    response = client.get("/rooms/999999/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "<h1>Page not found</h1>" in page
    assert 'href="/"' in page
    assert "URLconf" not in page and "urlpatterns" not in page


def test_an_unknown_url_is_the_same_404_page_signed_out():
    response = Client().get("/no/such/page/")
    assert response.status_code == 404
    assert "<h1>Page not found</h1>" in response.content.decode()


def test_a_403_says_why(client, alice, bob):
    room = RoomFactory(name="Den", slug="den", creator=alice)
    moderation.member_ban(room=room, by=alice, username="bob", reason="spam")
    client.force_login(bob)
    response = client.get(f"/rooms/{room.pk}/")
    assert response.status_code == 403
    assert "banned" in response.content.decode()


def test_the_500_page_needs_no_context(settings):
    from django.template import loader

    page = loader.get_template("500.html").render()
    assert "Something went wrong" in page and 'href="/"' in page


def test_every_page_names_the_favicon(client, alice):
    client.force_login(alice)
    assert 'rel="icon"' in client.get("/").content.decode()
