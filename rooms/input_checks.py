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

# NUL and the surrogate block; everything else is the services' business (lengths,
# control characters in names and bodies).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
MAX_JSON_DEPTH = 32
NOT_JSON = "not valid JSON."


class UnsafeInput(ValueError):
    """The input cannot be accepted; str() is the sentence for the client."""


def check_text(value: str, *, field: str = "text") -> str:
    """Return `value` unchanged, or raise UnsafeInput naming the field."""
    match = _UNSTORABLE.search(value)
    if match is not None:
        what = "a NUL character" if match.group() == "\x00" else "an unpaired surrogate"
        raise UnsafeInput(f"{field} contains {what}, which cannot be stored.")
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
