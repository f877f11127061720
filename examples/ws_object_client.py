"""The other old browser chat client's protocol, as a script: open a WebSocket, send
the join as JSON, then send each line typed as {"author": NAME, "body": line} and
print each {"author", "body"} object the server sends as "author: body".

    python examples/ws_object_client.py "ws://HOST:PORT/ws/compat/?format=objects" NAME ROOM

`?format=objects` makes the server answer in objects from the first frame (without
it, it switches at the client's first object). Needs `websockets`; docs/clients.md.
"""

from __future__ import annotations

import json
import sys
import threading

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect


def print_objects(socket) -> None:
    try:
        for text in socket:
            message = json.loads(text)
            print(f"{message['author']}: {message['body']}", flush=True)
    except ConnectionClosed:
        pass


def main() -> int:
    url, name, room = sys.argv[1], sys.argv[2], sys.argv[3]
    with connect(url, proxy=None) as socket:
        socket.send(json.dumps({"name": name, "room": room}))
        reader = threading.Thread(target=print_objects, args=(socket,), daemon=True)
        reader.start()
        for line in sys.stdin:
            socket.send(json.dumps({"author": name, "body": line.rstrip("\n")}))
        reader.join(timeout=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
