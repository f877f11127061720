"""`python -m chatclient export`: a room's whole history to a file, as JSON lines.

It reads `GET /api/rooms/{id}/export` (one Message object a line, oldest first) and
writes each line as it arrives, so a history of any length passes through in constant
memory. The file appears only once the whole history is in: it is written beside the
target as `<output>.part` and renamed at the end, so a failed export leaves no
truncated file under the name asked for.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request

from chatclient import api
from chatclient.cli import find_room, read_token
from chatclient.session import Fatal
from chatclient.terminal import terminal_safe

COMMAND = "export"
# Options of the main command that take a value: their values are not a subcommand.
_VALUED = {"--server", "--room", "--output", "-o"}


def wanted(argv: list[str]) -> bool:
    """Whether the command line asks for `export`: its first word that is neither an
    option nor an option's value (`--server URL export ...` and `export --server URL
    ...` both do; `--room export` does not)."""
    skip = False
    for word in argv:
        if skip:
            skip = False
        elif word.startswith("-"):
            skip = word in _VALUED
        else:
            return word == COMMAND
    return False


def parse_args(argv: list[str]) -> argparse.Namespace:
    words = list(argv)
    words.remove(COMMAND)
    parser = argparse.ArgumentParser(
        prog="python -m chatclient export",
        description="Write a room's whole history to a file, one JSON message a line.",
        epilog="Set CHAT_TOKEN to skip the token prompt.",
    )
    parser.add_argument(
        "--server",
        default=os.environ.get("CHAT_SERVER", "http://127.0.0.1:8000"),
        help="the site's URL (default: $CHAT_SERVER or http://127.0.0.1:8000)",
    )
    parser.add_argument("--room", required=True, help="the room's id or name")
    parser.add_argument(
        "--output",
        "-o",
        required=True,
        help="the file to write (JSON lines; replaced if it exists)",
    )
    return parser.parse_args(words)


def export_room(server: str, token: str, room_id: int, output: str) -> int:
    """Stream the room's history into `output`; returns how many messages it wrote."""
    request = urllib.request.Request(
        f"{server.rstrip('/')}/api/rooms/{room_id}/export",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/x-ndjson"},
    )
    partial = f"{output}.part"
    count = 0
    try:
        with (
            urllib.request.urlopen(request, timeout=api.TIMEOUT) as response,
            open(partial, "wb") as file,
        ):
            for line in response:  # read line by line: never the whole history at once
                if not line.strip():
                    continue
                file.write(line if line.endswith(b"\n") else line + b"\n")
                count += 1
        os.replace(partial, output)
    except urllib.error.HTTPError as error:
        raise _refused(error) from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise Fatal(f"Export failed: {reason}") from None
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    return count


def _refused(error: urllib.error.HTTPError) -> Fatal:
    try:
        detail = json.load(error).get("detail") or error.reason
    except (ValueError, AttributeError):
        detail = error.reason
    return Fatal(str(detail), exit_code=2 if error.code == 401 else 1)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        token = read_token()
        try:
            rooms = api.list_rooms(args.server, token)
        except api.ApiError as error:
            if error.status == 401:
                raise Fatal("The server refused the token.", exit_code=2) from None
            raise Fatal(error.detail) from None
        room = find_room(rooms, args.room)
        count = export_room(args.server, token, room["id"], args.output)
        noun = "message" if count == 1 else "messages"
        print(
            terminal_safe(
                f"Wrote {count} {noun} of {room['name']} (room {room['id']}) to {args.output}."
            ),
            flush=True,
        )
        return 0
    except Fatal as fatal:
        print(terminal_safe(f"! {fatal}"), file=sys.stderr, flush=True)
        return fatal.exit_code
    except KeyboardInterrupt:
        return 130
