"""The "Search messages" page: results from rooms I may read, matched words marked on
the server after escaping, each linking to its room opened at that message."""

from __future__ import annotations

import pytest

from rooms import formatting, services

pytestmark = pytest.mark.django_db


def _results_html(response) -> str:
    html = response.content.decode()
    start = html.index('aria-label="Search results"')
    return html[start : html.index("</ul>", start)]


def test_the_navigation_has_both_search_boxes(client, alice):
    client.force_login(alice)
    html = client.get("/").content.decode()
    assert ">Search users</label>" in html
    assert ">Search messages</label>" in html
    assert 'action="/search/"' in html


def test_it_marks_matched_word_prefixes_and_links_to_the_message(client, room, alice, bob):
    message, _ = services.message_post(room=room, author=alice, body="Deploying the release")
    services.message_post(room=room, author=alice, body="nothing to see")
    client.force_login(bob)
    response = client.get("/search/", {"q": "deplo RELEA"})
    assert response.status_code == 200
    results = _results_html(response)
    assert "<mark>Deploying</mark> the <mark>release</mark>" in results
    assert f'href="/rooms/{room.id}/?at={message.seq}"' in results
    assert "General" in results and "Alice" in results
    assert "nothing to see" not in results


def test_it_escapes_script_in_bodies_and_in_the_query(client, room, alice):
    services.message_post(room=room, author=alice, body="<script>alert(1)</script> & scripted")
    client.force_login(alice)
    response = client.get("/search/", {"q": "<script>scr"})
    html = response.content.decode()
    assert "<script>alert" not in html
    assert "<script>scr" not in html  # the query, shown back in the box and the title
    results = _results_html(response)
    assert (
        "&lt;<mark>script</mark>&gt;alert(1)&lt;/<mark>script</mark>&gt; &amp; <mark>scripted</mark>"
        in results
    )


def test_a_query_never_marks_inside_an_escaped_entity():
    assert formatting.highlight_words("a & b", ["amp"]) == "a &amp; b"
    assert formatting.highlight_words("Tom & amplify", ["amp"]) == "Tom &amp; <mark>amplify</mark>"


def test_private_rooms_never_leak(client, alice, bob, carol, mallory):
    conference = services.room_create(
        creator=alice, name="Secret plans", kind="conference", members=["bob", "carol"]
    )
    services.message_post(room=conference, author=alice, body="the hidden treasure")
    client.force_login(mallory)
    html = client.get("/search/", {"q": "treasure"}).content.decode()
    assert "treasure</mark>" not in html and "Secret plans" not in html
    assert "No messages match" in html
    client.force_login(bob)
    assert "<mark>treasure</mark>" in _results_html(client.get("/search/", {"q": "treas"}))


def test_an_empty_query_shows_help_not_results(client, room, alice):
    services.message_post(room=room, author=alice, body="anything")
    client.force_login(alice)
    for query in ("", "   ", "?!"):
        response = client.get("/search/", {"q": query})
        assert response.status_code == 200
        assert "anything" not in response.content.decode()


def test_it_needs_a_signed_in_user(client):
    response = client.get("/search/", {"q": "hello"})
    assert response.status_code == 302 and "/accounts/login/" in response.url
