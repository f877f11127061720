"""The few HTTP calls the client makes, with urllib."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

TIMEOUT = 10


class ApiError(Exception):
    """A call failed; `status` is the HTTP status, or None if the server was unreachable."""

    def __init__(self, detail: str, status: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status


def get_json(server: str, path: str, token: str) -> Any:
    request = urllib.request.Request(
        server.rstrip("/") + path,
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        try:
            detail = json.load(error).get("detail") or error.reason
        except (ValueError, AttributeError):
            detail = error.reason
        raise ApiError(str(detail), error.code) from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        raise ApiError(f"Cannot reach {server}: {reason}") from None


def list_rooms(server: str, token: str) -> list[dict[str, Any]]:
    """Public rooms and my private ones, newest activity first (GET /api/rooms)."""
    return get_json(server, "/api/rooms", token)["rooms"]
