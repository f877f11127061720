"""Errors that services raise and every front door (page, API, socket) translates.

Each has a stable `code` (the socket's error code) and an HTTP `status`.
"""

from __future__ import annotations


class ChatError(Exception):
    code = "invalid"
    status = 400

    def __init__(self, detail: str, **extra: object):
        super().__init__(detail)
        self.detail = detail
        # Extra fields for the socket's error frame and the API body (e.g. "until").
        self.extra = extra


class InvalidInput(ChatError):
    code = "invalid"
    status = 400


class RoomNotFound(ChatError):
    """A room that does not exist and one the user may not see look the same."""

    code = "not_found"
    status = 404

    def __init__(self, detail: str = "Room not found."):
        super().__init__(detail)


class MessageNotFound(ChatError):
    code = "not_found"
    status = 404

    def __init__(self, detail: str = "Message not found."):
        super().__init__(detail)


class AttachmentNotFound(ChatError):
    code = "not_found"
    status = 404

    def __init__(self, detail: str = "File not found."):
        super().__init__(detail)


class Forbidden(ChatError):
    code = "forbidden"
    status = 403


class Conflict(ChatError):
    code = "conflict"
    status = 409


class RateLimitedError(ChatError):
    code = "rate_limited"
    status = 429

    def __init__(self, retry_after: int, detail: str | None = None):
        unit = "second" if retry_after == 1 else "seconds"
        super().__init__(detail or f"Too many requests; retry after {retry_after} {unit}.")
        self.retry_after = retry_after


class Muted(ChatError):
    code = "muted"
    status = 403


class Banned(ChatError):
    code = "banned"
    status = 403


class Locked(ChatError):
    code = "locked"
    status = 403
