"""The socket's edge: turning a client's WebSocket frame into a checked dict.

Every frame passes here before any handler sees it. A frame that is not JSON text, is
too big, nests too deep, holds NUL or a lone surrogate anywhere, is not an object, or
has a `type` that is not a string is refused with InvalidInput (an `error` frame with
code `invalid`; the socket stays open). Handlers then read typed fields with
int_field / str_field, which raise InvalidInput with a reason.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from rooms import input_checks
from rooms.errors import InvalidInput


def parse(text_data: str | None, bytes_data: bytes | None) -> dict[str, Any]:
    if text_data is None:
        raise InvalidInput("Frames must be JSON text, not binary.")
    limit = settings.CHAT_FRAME_MAX_BYTES
    # len() first: a str's UTF-8 form is at least as long, and encoding a huge frame
    # just to measure it is waste. surrogatepass: a lone surrogate is refused below.
    if len(text_data) > limit or len(text_data.encode("utf-8", "surrogatepass")) > limit:
        raise InvalidInput(f"Frame is larger than {limit // 1024} KiB.")
    try:
        frame = input_checks.loads(text_data)
    except input_checks.UnsafeInput as exc:
        raise InvalidInput(f"Frame refused: {exc}") from None
    if not isinstance(frame, dict):
        raise InvalidInput("Frame must be a JSON object.")
    if not isinstance(frame.get("type"), str):
        raise InvalidInput('Frame needs a "type" string.')
    return frame


def ref_of(frame: Any) -> str | None:
    """The client_id an error answers, when the frame carried a usable one."""
    if isinstance(frame, dict):
        ref = frame.get("client_id")
        if isinstance(ref, str) and len(ref) <= 64:
            return ref
    return None


def int_field(frame: dict[str, Any], name: str, *, optional: bool = False) -> int | None:
    value = frame.get(name)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise InvalidInput(f"{name} must be a non-negative integer.")
    return value
