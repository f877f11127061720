"""`:shortcode:` in a message renders as its emoji: outside code and link text, known
shortcodes only, the stored body unchanged; hostile text never crashes or stalls it."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rooms import services
from rooms.emoji_catalog import replace_shortcodes, shortcodes
from rooms.formatting import render
from rooms.wire import message_dict


@pytest.mark.parametrize(
    "body, expected",
    [
        (":tada:", "<p>🎉</p>"),
        ("ship it :tada: now", "<p>ship it 🎉 now</p>"),
        (":+1::100:", "<p>👍💯</p>"),
        (":party_popper:", "<p>🎉</p>"),
        ("**:smile:**", "<p><strong>😄</strong></p>"),
        ("> :heart:", "❤️"),
        ("- :rocket:", "<li>🚀</li>"),
    ],
)
def test_known_shortcodes_render_as_emoji(body, expected):
    assert expected in render(body)


@pytest.mark.parametrize(
    "body",
    [
        "`:tada:`",
        "```\n:tada:\n```",
        "    :tada: indented code",
        "https://example.com/:tada:",
        "[see](https://example.com/:tada:)",
    ],
)
def test_shortcodes_in_code_and_links_stay_as_typed(body):
    html = render(body)
    assert "🎉" not in html
    assert ":tada:" in html


@pytest.mark.parametrize(
    "body",
    [":not_an_emoji_at_all:", "10:100:5", "a:b:c", ":Tada:", ":tada", "tada:", "::", ":x :y"],
)
def test_unknown_or_glued_shortcodes_are_left_as_text(body):
    assert render(body) == f"<p>{body}</p>"


def test_colliding_shortcodes_resolve_to_the_emojis_own_name():
    # 🐈's name is "cat"; 🐱's alias is also "cat": a name beats an alias.
    assert shortcodes()["cat"] == "🐈"
    assert shortcodes()["tada"] == "🎉"


def test_the_stored_body_and_the_wire_body_keep_the_shortcode(room, alice):
    message, _ = services.message_post(room=room, author=alice, body="done :tada:")
    message.refresh_from_db()
    assert message.body == "done :tada:"
    wire = message_dict(message)
    assert wire["body"] == "done :tada:"
    assert wire["html"] == "<p>done 🎉</p>"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.text(
        alphabet=st.sampled_from(
            [":", "a", "t", "d", "_", "+", "1", " ", "`", "\n", "\x00", "\ud800", "é", "🎉"]
        ),
        max_size=300,
    )
    | st.text(max_size=200)
)
def test_hostile_text_never_crashes_the_renderer(body):
    html = render(body)
    assert isinstance(html, str)
    # Replacing is idempotent on the output of a replacement: no shortcode hides inside
    # an emoji, and unknown codes survive.
    assert replace_shortcodes(replace_shortcodes(body)) == replace_shortcodes(body)


@pytest.mark.parametrize(
    "body",
    [
        ":" * 100_000,
        ("a" * 59 + ":") * 2_000,
        ":tada:" * 20_000,
        (":" + "x" * 61) * 2_000,
        ":\x00:\ud800:" * 10_000,
    ],
)
def test_huge_and_colon_heavy_text_renders_in_linear_time(body):
    started = time.monotonic()
    replace_shortcodes(body)
    render(body)
    assert time.monotonic() - started < 5
