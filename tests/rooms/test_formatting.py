"""Safe Markdown and @mentions."""

from __future__ import annotations

import re

import pytest
from channels.db import database_sync_to_async

from rooms import services
from rooms.formatting import ALLOWED_TAGS, render
from tests.conftest import connect, join, receive_type


@pytest.mark.parametrize(
    "body, expected",
    [
        ("**bold** and _it_", "<strong>bold</strong> and <em>it</em>"),
        ("`x < y`", "<code>x &lt; y</code>"),
        ("```\nblock\n```", "<pre><code>block\n</code></pre>"),
        ("> quoted", "<blockquote>"),
        ("[site](https://example.com)", 'href="https://example.com"'),
    ],
)
def test_the_safe_subset_of_markdown_renders(body, expected):
    assert expected in render(body)


@pytest.mark.parametrize(
    "attack",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "[click](javascript:alert(1))",
        "[click](JaVaScRiPt:alert(1))",
        "![x](javascript:alert(1))",
        '<a href="javascript:alert(1)">x</a>',
        "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        '<iframe src="https://evil.example"></iframe>',
        "<svg onload=alert(1)>",
    ],
)
def test_no_html_a_user_wrote_reaches_the_page(attack):
    html = render(attack)
    tags = re.findall(r"<[^>]*>", html)
    for tag in tags:
        name = re.match(r"</?\s*([a-z]+)", tag.lower()).group(1)
        assert name in ALLOWED_TAGS, tag
        assert not re.search(r"\son\w+\s*=", tag.lower()), tag
        assert "javascript:" not in tag.lower() and "data:" not in tag.lower(), tag


def test_links_open_safely():
    html = render("[site](https://example.com)")
    assert 'rel="noopener noreferrer"' in html and 'target="_blank"' in html


@pytest.mark.parametrize(
    "body, link",
    [
        ("see https://example.com/a?b=1&c=2 now", "https://example.com/a?b=1&amp;c=2"),
        ("http://example.org.", "http://example.org"),
        ("write to mailto:team@example.com", "mailto:team@example.com"),
        ("@alice look https://e.com", "https://e.com"),
    ],
)
def test_bare_urls_with_a_scheme_become_safe_links(body, link):
    html = render(body)
    assert f'<a href="{link}" target="_blank" rel="noopener noreferrer">' in html


@pytest.mark.parametrize(
    "body",
    [
        "file.py and v1.2",
        "www.example.org",
        "someone@example.com",
        "javascript:alert(1)",
        "data:text/html,<b>x</b>",
        "`https://in.code`",
        "ftp://old.example.com",
    ],
)
def test_nothing_else_becomes_a_link(body):
    assert "<a " not in render(body)


def test_mentions_are_marked_but_not_inside_code():
    html = render("hi @alice, see `@bob`")
    assert '<span class="mention" data-mention="alice">@alice</span>' in html
    assert 'data-mention="bob"' not in html


def test_a_full_stop_after_a_mention_is_not_part_of_the_name():
    html = render("ask @bob.")
    assert '<span class="mention" data-mention="bob">@bob</span>.' in html


def test_numbered_lists_keep_their_start():
    assert '<ol start="3">' in render("3. three\n4. four")


@pytest.mark.django_db
def test_mentions_are_counted_for_members_and_listed(api_client, alice, bob, carol):
    conference = services.room_create(
        creator=alice, name="T", kind="conference", members=["bob", "carol"]
    )
    services.message_post(room=conference, author=alice, body="@bob can you? @mallory too")
    services.message_post(room=conference, author=alice, body="and again @bob")
    bob_rooms = api_client(bob).get("/api/private").json()["rooms"]
    assert bob_rooms[0]["mentions"] == 2 and bob_rooms[0]["unread"] == 2
    assert api_client(carol).get("/api/private").json()["rooms"][0]["mentions"] == 0
    listed = api_client(bob).get("/api/mentions").json()["mentions"]
    assert [m["body"] for m in listed] == ["and again @bob", "@bob can you? @mallory too"]
    assert 'data-mention="bob"' in listed[0]["html"]
    api_client(bob).post(f"/api/rooms/{conference.id}/read", {"seq": 2})
    assert api_client(bob).get("/api/private").json()["rooms"][0]["mentions"] == 0


@pytest.mark.django_db(transaction=True)
async def test_a_mention_reaches_the_mentioned_users_sockets_in_any_room(room, alice, bob):
    await database_sync_to_async(services.room_join)(room=room, user=bob)
    other = await database_sync_to_async(services.room_create)(creator=bob, name="Elsewhere")
    b = await connect(bob)
    await join(b, other.id)
    await database_sync_to_async(services.message_post)(room=room, author=alice, body="hey @bob")
    mention = await receive_type(b, "mention")
    assert mention["room"] == room.id and mention["message"]["body"] == "hey @bob"
    await b.disconnect()
