"""Checks every front door runs on what a client sent, before anything else sees it.

Python strings can hold what no database stores: NUL (PostgreSQL refuses it) and lone
UTF-16 surrogates such as "\\ud800" (no UTF-8 encoding exists, so the driver raises).
JSON can also nest deeper than Python's recursion limit. Each door (socket frames,
gateway lines, API bodies and query strings, forms) refuses such input here with a
clear sentence, so no handler, service or driver ever meets it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from rooms.errors import InvalidInput

# NUL and the surrogate block, refused at every door; lengths are the services'
# business, and so are control characters (refuse_control_characters, which services
# call on what they store).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
MAX_JSON_DEPTH = 32
NOT_JSON = "not valid JSON."
# What no stored text a user writes may hold: C0 controls other than tab and newline,
# DEL, C1 controls, and the Unicode line and paragraph separators. Escape sequences
# (ESC, CSI) and bells reach terminals that show the text; the separators split lines
# where readers do not expect it. A carriage return is refused too: services that
# take multi-line text turn "\r\n" and "\r" into "\n" before they check.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


class UnsafeInput(ValueError):
    """The input cannot be accepted; str() is the sentence for the client."""


def check_text(value: str, *, field: str = "text") -> str:
    """Return `value` unchanged, or raise UnsafeInput naming the field."""
    match = _UNSTORABLE.search(value)
    if match is not None:
        what = "a NUL character" if match.group() == "\x00" else "an unpaired surrogate"
        raise UnsafeInput(f"{field} contains {what}, which cannot be stored.")
    return value


def find_control_character(value: str) -> str | None:
    """The first character of `value` that refuse_control_characters refuses, or None."""
    match = _CONTROL.search(value)
    return match.group() if match is not None else None


def refuse_control_characters(value: str, *, field: str) -> str:
    """Return `value` unchanged, or raise InvalidInput naming the field and the first
    control character (other than newline and tab) in it. The one rule for every
    stored string a user writes: message bodies, names, topics, bios, reasons."""
    found = find_control_character(value)
    if found is not None:
        raise InvalidInput(
            f"{field} must not contain control characters other than newline and tab "
            f"(found U+{ord(found):04X})."
        )
    return value


def check_json_value(value: Any, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Walk a decoded JSON value (iteratively: no recursion to exhaust) and raise
    UnsafeInput for nesting deeper than `max_depth` or any string (key or value) that
    check_text refuses. Returns the value."""
    stack: list[tuple[Any, int, str]] = [(value, 1, "value")]
    while stack:
        item, depth, where = stack.pop()
        if isinstance(item, str):
            check_text(item, field=where)
        elif isinstance(item, dict | list):
            if depth > max_depth:
                raise UnsafeInput(f"JSON is nested deeper than {max_depth} levels.")
            if isinstance(item, dict):
                for key, child in item.items():
                    check_text(key, field="a key")
                    stack.append((child, depth + 1, str(key)[:40]))
            else:
                stack.extend((child, depth + 1, where) for child in item)
    return value


def loads(text: str | bytes, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """json.loads that raises UnsafeInput (never RecursionError, never a value holding
    NUL or a lone surrogate) for input no door should accept."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise UnsafeInput(f"JSON is nested deeper than {max_depth} levels.") from None
    except (ValueError, UnicodeDecodeError):
        raise UnsafeInput(NOT_JSON) from None
    return check_json_value(value, max_depth=max_depth)
