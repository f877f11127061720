"""Text from a chat server, made safe to print on a terminal.

Whatever a server sends (room names, usernames, message bodies, error details) may be
old data or come from a hostile server: an ESC starts an escape sequence that can
retitle the window, clear the screen or recolour what follows; a carriage return or a
bidi override can make a line read as something else. Every such character becomes a
visible placeholder instead.

Used by the terminal client (`python -m chatclient`) and by the TCP gateway's text mode
(rooms.realtime.gateway), which both put user text on someone's terminal; standard
library only, so the client needs nothing of the server to use it.
"""

from __future__ import annotations

import re

PLACEHOLDER = "\ufffd"
# C0 controls (newline and tab are dealt with below), DEL, C1 controls, the Unicode
# line and paragraph separators, and the bidi controls (marks, embeddings, overrides,
# isolates: Unicode's Bidi_Control property).
_UNPRINTABLE = re.compile(
    "[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def terminal_safe(text: str, *, keep_newlines: bool = True) -> str:
    """`text` with every control character replaced by PLACEHOLDER (U+FFFD), so nothing
    in it acts on the terminal. A tab becomes a space; a newline is kept when
    `keep_newlines` (the client prints a message's extra lines itself), and replaced
    otherwise (a line protocol, where one line must stay one line)."""
    text = text.replace("\t", " ")
    if keep_newlines:
        return "\n".join(_UNPRINTABLE.sub(PLACEHOLDER, part) for part in text.split("\n"))
    return _UNPRINTABLE.sub(PLACEHOLDER, text)
