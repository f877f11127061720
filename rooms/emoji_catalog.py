"""The emoji shortcodes (`:tada:` → 🎉) and the picker's catalogue, from one source.

Names and shortcodes come from the `emoji` package (pinned in pyproject.toml): each
fully-qualified emoji's English name (`:party_popper:`) and its aliases (`:tada:`),
lower-cased, keeping those made of a-z, 0-9, `_`, `+` and `-` only (so `:+1:` and
`:100:` count, `:A_button_(blood_type):` does not). Where two emoji claim the same
shortcode, an emoji's own name beats another's alias, then the first in the package's
order wins: `:cat:` is 🐈 (its name), not 🐱 (whose alias it also is).

The server renders these in messages (rooms/formatting.py). The browser's picker and
`:shortcode:` completion read static/emoji/emoji-data.json, generated from the same
table by `make emoji-data` (`python -m rooms.emoji_catalog`), with the picker's
categories and order taken from the pinned npm package `emojibase-data` (the Unicode
emoji groups). tests/rooms/test_emoji_catalog.py fails if the committed file drifts
from the installed `emoji` package.
"""

from __future__ import annotations

import json
import re
import sys
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import Any

import emoji as emoji_data

SHORTCODE_TEXT = re.compile(r"[a-z0-9_+\-]{1,60}\Z")
# A shortcode in message text: not glued to a word or another shortcode's letters
# ("10:100:5" and "a:b:c" are not shortcodes), lower case only.
SHORTCODE = re.compile(r"(?<!\w):([a-z0-9_+\-]{1,60}):(?![\w])")
FULLY_QUALIFIED = emoji_data.STATUS["fully_qualified"]
SKIN_TONES = frozenset("\U0001f3fb\U0001f3fc\U0001f3fd\U0001f3fe\U0001f3ff")
DATA_FILE = Path(__file__).resolve().parent.parent / "static" / "emoji" / "emoji-data.json"
# The Unicode emoji groups, in emojibase-data's numbering ("component" — skin tones and
# hair styles on their own — is left out of the picker).
GROUPS = {
    0: "Smileys & emotion",
    1: "People & body",
    3: "Animals & nature",
    4: "Food & drink",
    5: "Travel & places",
    6: "Activities",
    7: "Objects",
    8: "Symbols",
    9: "Flags",
}


@cache
def shortcodes() -> dict[str, str]:
    """shortcode (without colons) → emoji, as described above."""
    named: dict[str, str] = {}
    aliased: dict[str, str] = {}
    for character, data in emoji_data.EMOJI_DATA.items():
        if data["status"] != FULLY_QUALIFIED:
            continue
        for table, names in ((named, [data["en"]]), (aliased, data.get("alias", []))):
            for name in names:
                code = name.strip(":").lower()
                if SHORTCODE_TEXT.match(code):
                    table.setdefault(code, character)
    return {**aliased, **named}


def replace_shortcodes(text: str) -> str:
    """`text` with every known `:shortcode:` replaced by its emoji; unknown ones stay."""
    if ":" not in text:
        return text
    table = shortcodes()
    return SHORTCODE.sub(lambda match: table.get(match.group(1), match.group(0)), text)


def emoji_name(character: str) -> str:
    return emoji_data.EMOJI_DATA[character]["en"].strip(":").replace("_", " ")


def build(emojibase: list[dict[str, Any]]) -> dict[str, Any]:
    """The browser's data: `groups` (names) and `emoji`, each `[character, name,
    [shortcodes], group index]`, in Unicode order. Skin-tone variants are left out of
    the picker (their shortcodes still render in messages)."""
    by_emoji: dict[str, list[str]] = {}
    for code, character in sorted(shortcodes().items()):
        by_emoji.setdefault(character, []).append(code)
    # The two packages may differ on where U+FE0F (emoji presentation) goes: match
    # without it, show the `emoji` package's fully-qualified form.
    bare = {character.replace("\ufe0f", ""): character for character in by_emoji}
    group_ids = list(GROUPS)
    rows = []
    for entry in sorted(emojibase, key=lambda entry: entry.get("order", 1 << 30)):
        character = bare.get(
            (entry.get("emoji") or entry.get("unicode") or "").replace("\ufe0f", "")
        )
        group = entry.get("group")
        if group not in GROUPS or character is None:
            continue
        if SKIN_TONES.intersection(character):
            continue
        rows.append([character, emoji_name(character), by_emoji[character], group_ids.index(group)])
    return {
        "source": f"emoji {version('emoji')}",
        "groups": list(GROUPS.values()),
        "emoji": rows,
    }


def dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n"


def main(argv: list[str]) -> None:
    """python -m rooms.emoji_catalog EMOJIBASE_DATA_JSON [OUTPUT]"""
    source = Path(argv[0])
    output = Path(argv[1]) if len(argv) > 1 else DATA_FILE
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(dumps(build(json.loads(source.read_text()))), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
