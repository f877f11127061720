"""The TCP gateway: chat rooms for line clients (netcat, telnet, scripts).

One connection is one user in one room. The first line is JSON,
`{"token": "...", "room": id or "public room name"}` (add `"json": true` for the
program mode); after it every line the client sends is a message, and every message in
the room arrives as one line, `[HH:MM] author: body`. docs/clients.md is the protocol.

The package: `protocol` (lines, the first line, how a message reads), `client` (one
connection), `server` (the listener and its limits); `manage.py chatgateway` runs it.

Thin like the socket consumer: it authenticates with accounts.services, enters and
posts through rooms.services, reads through rooms.selectors, and hears the room on
the channel layer, so line clients and browsers share rooms. Its one piece of logic is
the consumer's ordering rule: remember the last seq delivered, drop what was already
delivered, and fill any gap from the database first, so each message arrives once and
in order even if the channel layer loses or reorders an event.

Everything a client can make grow is bounded: the first line must come within
FIRST_LINE_TIMEOUT, a line is at most `line_max_bytes`, and a client that does not read
has at most `queue_lines` lines waiting for it before it is dropped; the server and
the other clients never wait for it.
"""

from rooms.realtime.gateway.protocol import LINE_MAX_BYTES
from rooms.realtime.gateway.server import MAX_CLIENTS, QUEUE_LINES, Gateway

__all__ = ["LINE_MAX_BYTES", "MAX_CLIENTS", "QUEUE_LINES", "Gateway"]
