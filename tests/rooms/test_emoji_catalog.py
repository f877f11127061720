"""The browser's emoji data (static/emoji/emoji-data.json) and the server's shortcode
rendering are one table: the committed file cannot drift from the pinned packages."""

from __future__ import annotations

import gzip
import json
import os
from importlib.metadata import version
from pathlib import Path

import emoji as emoji_data
import pytest

from rooms.emoji_catalog import DATA_FILE, GROUPS, build, dumps, emoji_name, shortcodes
from rooms.formatting import render

EMOJIBASE_JSON = (
    Path(__file__).resolve().parents[2] / ".venv/emojibase/node_modules/emojibase-data/en/data.json"
)


@pytest.fixture(scope="module")
def data():
    return json.loads(DATA_FILE.read_text(encoding="utf-8"))


def test_the_file_names_the_installed_emoji_package(data):
    assert data["source"] == f"emoji {version('emoji')}"
    assert data["groups"] == list(GROUPS.values())


def test_every_shortcode_the_browser_offers_renders_to_the_same_emoji(data):
    table = shortcodes()
    offered = 0
    for character, _name, codes, _group in data["emoji"]:
        for code in codes:
            assert table[code] == character, code
            assert render(f":{code}:") == f"<p>{character}</p>", code
            offered += 1
    assert offered > 2500


def test_each_emoji_carries_all_its_shortcodes_and_its_name(data):
    by_emoji: dict[str, list[str]] = {}
    for code, character in sorted(shortcodes().items()):
        by_emoji.setdefault(character, []).append(code)
    for character, name, codes, group in data["emoji"]:
        assert emoji_data.EMOJI_DATA[character]["status"] == emoji_data.STATUS["fully_qualified"]
        assert codes == by_emoji[character]
        assert name == emoji_name(character)
        assert 0 <= group < len(GROUPS)
    characters = [row[0] for row in data["emoji"]]
    assert len(characters) == len(set(characters))
    assert {"😄", "🎉", "👍", "❤️", "🇫🇷"} <= set(characters)


def test_the_file_stays_small():
    raw = DATA_FILE.read_bytes()
    assert len(raw) < 150_000
    assert len(gzip.compress(raw)) < 40_000


def test_the_committed_file_is_what_make_emoji_data_generates():
    if not EMOJIBASE_JSON.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{EMOJIBASE_JSON} is missing: `make install` installs it with npm")
        pytest.skip("emojibase-data is not installed (npm): `make install`")
    expected = dumps(build(json.loads(EMOJIBASE_JSON.read_text(encoding="utf-8"))))
    assert DATA_FILE.read_text(encoding="utf-8") == expected, "run `make emoji-data`"
