"""Template hygiene: Django's `{# #}` comments are one line only; one spread over two
lines is printed on the page as text (it once was, in the room's side panel)."""

from __future__ import annotations

import re
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def test_no_comment_tag_spans_lines():
    unclosed = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            # Every "{#" on a line must be closed by a "#}" later on the same line.
            if re.search(r"\{#(?![^\n]*#\})", line):
                unclosed.append(f"{path.relative_to(TEMPLATES)}:{number}: {line.strip()}")
    assert not unclosed, unclosed
