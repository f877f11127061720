"""`python -m chatclient`: arguments, the token, the room; then a Session."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import os
import sys
import threading
from typing import Any

from chatclient import api, render
from chatclient.session import Fatal, Session
from chatclient.terminal import terminal_safe

USAGE_NOTE = """\
Type a line and press Enter to send it. /quit (or Ctrl-D) leaves; other /commands
(/help, /me, /who ...) are the server's. Set CHAT_TOKEN to skip the token prompt.
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m chatclient",
        description="Chat in a room of the chat site from the terminal.",
        epilog=USAGE_NOTE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--server",
        default=os.environ.get("CHAT_SERVER", "http://127.0.0.1:8000"),
        help="the site's URL (default: $CHAT_SERVER or http://127.0.0.1:8000)",
    )
    parser.add_argument("--room", help="the room's id or name (asked for when omitted)")
    parser.add_argument("--list", action="store_true", help="list your rooms and exit")
    return parser.parse_args(argv)


def read_token() -> str:
    token = os.environ.get("CHAT_TOKEN", "").strip()
    if token:
        return token
    try:
        token = getpass.getpass("API token (create one on your profile page): ").strip()
    except (EOFError, KeyboardInterrupt):
        token = ""
    if not token:
        raise Fatal("No token: set CHAT_TOKEN or type one at the prompt.", exit_code=2)
    return token


def find_room(rooms: list[dict[str, Any]], wanted: str) -> dict[str, Any]:
    wanted = wanted.strip()
    for room in rooms:
        if wanted.isdigit() and room["id"] == int(wanted):
            return room
    folded = wanted.casefold()
    named = [r for r in rooms if folded in (r["name"].casefold(), r.get("slug", "").casefold())]
    if len(named) == 1:
        return named[0]
    if named:
        raise Fatal(f"More than one room is named {wanted!r}; give its id.")
    raise Fatal(f"No room {wanted!r} among yours; --list shows them.")


def start_reading_stdin(loop: asyncio.AbstractEventLoop, lines: asyncio.Queue) -> None:
    """Read stdin in a thread (it blocks; and works the same for a terminal and a pipe);
    None marks the end of input."""

    def put(item: str | None) -> None:
        # After the loop has finished (the client is exiting) there is no one to tell.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(lines.put_nowait, item)

    def read() -> None:
        try:
            for line in sys.stdin:
                put(line)
        finally:
            put(None)

    threading.Thread(target=read, name="stdin", daemon=True).start()


async def chat(session: Session) -> int:
    lines: asyncio.Queue[str | None] = asyncio.Queue()
    start_reading_stdin(asyncio.get_running_loop(), lines)
    return await session.run(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    from chatclient import export  # here: it uses this module's helpers

    if export.wanted(argv):  # `python -m chatclient export --room ... --output ...`
        return export.main(argv)
    args = parse_args(argv)
    try:
        token = read_token()
        try:
            rooms = api.list_rooms(args.server, token)
        except api.ApiError as error:
            if error.status == 401:
                raise Fatal("The server refused the token.", exit_code=2) from None
            raise Fatal(error.detail) from None
        if args.list or args.room is None:
            print("Rooms:" if rooms else "No rooms yet: create one in the browser.", flush=True)
            for room in rooms:
                print(render.room_line(room), flush=True)
        if args.list:
            return 0
        wanted = args.room
        if wanted is None:
            try:
                wanted = input("Room (id or name): ")
            except EOFError:
                raise Fatal("No room chosen.") from None
        session = Session(server=args.server, token=token, room=find_room(rooms, wanted))
        print(USAGE_NOTE, end="", flush=True)
        return asyncio.run(chat(session))
    except Fatal as fatal:
        # It may quote the server (an error's detail): made safe like everything shown.
        print(terminal_safe(f"! {fatal}"), file=sys.stderr, flush=True)
        return fatal.exit_code
    except KeyboardInterrupt:
        return 130
