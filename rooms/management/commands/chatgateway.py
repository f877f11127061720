"""`python manage.py chatgateway --listen 127.0.0.1:8989`: the TCP gateway for line
clients (docs/clients.md). It is a process of its own, so it reaches the web workers'
sockets only through the Redis channel layer: without REDIS_URL it refuses to start,
unless --allow-memory-layer asks for a gateway that hears only itself (for trying it).
"""

from __future__ import annotations

import asyncio
import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from rooms.realtime import gateway
from rooms.realtime.gateway import server as server_module

NO_REDIS = (
    "REDIS_URL is not set. The gateway runs as its own process, so it needs the Redis "
    "channel layer to share rooms with the web server: set REDIS_URL (for example "
    "redis://127.0.0.1:6379/0) to the value the web workers use. To try the gateway "
    "alone (TCP clients hear only each other, not the browser), pass --allow-memory-layer."
)


def parse_listen(value: str) -> tuple[str, int]:
    host, separator, port = value.rpartition(":")
    host = host.strip("[]")
    if not separator or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise CommandError(f"--listen takes HOST:PORT (e.g. 127.0.0.1:8989), got {value!r}.")
    return host, int(port)


class Command(BaseCommand):
    help = "Serve chat rooms to line-based TCP clients (netcat, telnet, scripts)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--listen",
            default="127.0.0.1:8989",
            help="HOST:PORT to listen on (default 127.0.0.1:8989; port 0 picks a free one).",
        )
        parser.add_argument(
            "--allow-memory-layer",
            action="store_true",
            help="Start without REDIS_URL; only TCP clients of this process hear each other.",
        )
        parser.add_argument(
            "--max-line-bytes",
            type=int,
            default=gateway.LINE_MAX_BYTES,
            help=f"Longest line a client may send (default {gateway.LINE_MAX_BYTES}).",
        )
        parser.add_argument(
            "--queue-lines",
            type=int,
            default=gateway.QUEUE_LINES,
            help="Lines waiting for a client that does not read before it is dropped "
            f"(default {gateway.QUEUE_LINES}).",
        )
        parser.add_argument(
            "--max-clients",
            type=int,
            default=gateway.MAX_CLIENTS,
            help=f"Connections served at once (default {gateway.MAX_CLIENTS}).",
        )
        parser.add_argument(
            "--first-line-timeout",
            type=float,
            default=server_module.FIRST_LINE_TIMEOUT,
            help="Seconds a new connection has to send its first line "
            f"(default {server_module.FIRST_LINE_TIMEOUT:g}).",
        )
        parser.add_argument(
            "--pending-per-address",
            type=int,
            default=server_module.PENDING_PER_ADDRESS,
            help="Connections one address may hold before signing in "
            f"(default {server_module.PENDING_PER_ADDRESS}).",
        )

    def handle(self, *args, **options) -> None:
        host, port = parse_listen(options["listen"])
        if not settings.REDIS_URL and not options["allow_memory_layer"]:
            raise CommandError(NO_REDIS)
        for name in ("max_line_bytes", "queue_lines", "max_clients", "pending_per_address"):
            if options[name] < 1:
                raise CommandError(f"--{name.replace('_', '-')} must be at least 1.")
        server = gateway.Gateway(
            line_max_bytes=options["max_line_bytes"],
            queue_lines=options["queue_lines"],
            max_clients=options["max_clients"],
            first_line_timeout=options["first_line_timeout"],
            pending_per_address=options["pending_per_address"],
        )
        asyncio.run(self._serve(server, host, port))

    async def _serve(self, server: gateway.Gateway, host: str, port: int) -> None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stopping.set)
        try:
            bound_host, bound_port = await server.start(host, port)
        except OSError as error:
            raise CommandError(f"Cannot listen on {host}:{port}: {error}") from None
        layer = "Redis" if settings.REDIS_URL else "in-memory (this process only)"
        self.stdout.write(
            f"Chat gateway listening on {bound_host}:{bound_port} "
            f"(channel layer: {layer}). Ctrl-C to stop."
        )
        self.stdout.flush()
        await stopping.wait()
        self.stdout.write("Stopping the chat gateway.")
        await server.stop()
