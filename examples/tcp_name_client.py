"""An old-style TCP chat client, as the first of the older chat servers' clients was
written: connect, send the join as one JSON object with no newline after it, then
send each line typed as a message and print each line the server sends.

    python examples/tcp_name_client.py HOST PORT NAME ROOM

Against this site: run the gateway (`manage.py chatgateway --listen 127.0.0.1:7000`),
set CHAT_GUESTS=1, and open ROOM to guests (room page, admin, or the API). Standard
library only; docs/clients.md describes the protocol.
"""

from __future__ import annotations

import json
import socket
import sys
import threading


def print_lines(connection: socket.socket) -> None:
    for line in connection.makefile("r", encoding="utf-8", errors="replace"):
        sys.stdout.write(line)
        sys.stdout.flush()


def main() -> int:
    host, port, name, room = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    connection = socket.create_connection((host, port))
    connection.sendall(json.dumps({"name": name, "room": room}).encode())  # no newline
    reader = threading.Thread(target=print_lines, args=(connection,), daemon=True)
    reader.start()
    for line in sys.stdin:
        connection.sendall(line.encode())
    connection.shutdown(socket.SHUT_WR)  # typed everything: let the replies finish
    reader.join(timeout=5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
