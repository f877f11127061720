"""An old-style browser chat client's protocol, as a script: open a WebSocket, send
the join as JSON, then send each line typed as a plain text frame and print each text
frame the server sends.

    python examples/ws_text_client.py ws://HOST:PORT/ws/compat/ NAME ROOM

Against this site: set CHAT_GUESTS=1 and open ROOM to guests; an old client that
expects its own path can be served there with CHAT_COMPAT_PATHS. Needs `websockets`
(a dependency of this project); docs/clients.md describes the protocol.
"""

from __future__ import annotations

import json
import sys
import threading

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect


def print_frames(socket) -> None:
    try:
        for text in socket:
            print(text, flush=True)
    except ConnectionClosed:
        pass


def main() -> int:
    url, name, room = sys.argv[1], sys.argv[2], sys.argv[3]
    with connect(url, proxy=None) as socket:
        socket.send(json.dumps({"name": name, "room": room}))
        reader = threading.Thread(target=print_frames, args=(socket,), daemon=True)
        reader.start()
        for line in sys.stdin:
            socket.send(line.rstrip("\n"))
        reader.join(timeout=2)  # the replies to the last lines
    return 0


if __name__ == "__main__":
    sys.exit(main())
