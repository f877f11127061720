"""A loopback topology of real server processes: N daphne workers sharing one
database and (with a Redis URL) one channels-redis layer, optionally behind Debian's
nginx (``nginx=True``), as docker-compose.yml arranges them. ``server="uvicorn"``
runs the same application under uvicorn instead, with equivalent settings.

Used by the live tests, the browser tests and the benchmark::

    with Stack(2, database_url="sqlite:///...", redis_url="redis://127.0.0.1:6379/15") as stack:
        stack.urls      # ["http://127.0.0.1:PORT", ...]
        stack.ws_urls   # ["ws://127.0.0.1:PORT/ws/chat/", ...] (the chat socket endpoint)
        stack.kill_worker(0)      # SIGKILL, as a crash would
        stack.restart_worker(0)   # back on the same port and URL

Everything is bounded: start-up polls with a deadline, stop() terminates and then kills
after a timeout and always reaps. Workers listen on 127.0.0.1 only. Each worker's
stdout and stderr go to `<log_dir>/worker-<i>.log`; a worker that fails to start is
reported with that path and the tail of its log.

Run it by hand with ``python -m bench.stack --workers 3`` (``--server uvicorn`` for
uvicorn): it migrates, starts the workers, prints their URLs and runs until Ctrl-C.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO

PROJECT_DIR = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
READY_PATH = "/accounts/login/"
WS_PATH = "/ws/chat/"
PORT_ATTEMPTS = 3
SERVERS = ("daphne", "uvicorn")
# What each server logs when its port was taken between free_port() and its bind.
LISTEN_FAILURES = ("Listen failure", "address already in use")
# daphne's own defaults (daphne/cli.py), spelled out so uvicorn can be given the same.
PING_INTERVAL = 20  # seconds a socket may be idle before the server pings it
PING_TIMEOUT = 30  # seconds to wait for the pong before closing
# Bytes, well above the protocol's 64 KiB frames: an oversized frame reaches the
# consumer, which answers "invalid", instead of the server closing the socket.
WS_MAX_MESSAGE = 1024 * 1024
APP_CLOSE_TIMEOUT = 10  # seconds the app gets to finish after a disconnect or SIGTERM

# Runs in the child before the server replaces it (os.execv keeps the pid): ask Linux to
# SIGKILL the worker when the process that started it dies, so a crashed or killed
# test run never leaves servers listening. Best effort; elsewhere it does nothing.
_LAUNCHER = """\
import ctypes, os, signal, sys
parent = int(sys.argv[1])
try:
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
except (OSError, AttributeError):
    pass
if os.getppid() != parent:
    sys.exit(1)
os.execv(sys.executable, [sys.executable, *sys.argv[2:]])
"""

# Stacks that have not been stopped; stopped at interpreter exit as a last resort.
_running: set[Stack] = set()
# Proxies from the environment must never see loopback readiness probes.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class WorkerFailed(RuntimeError):
    """A worker did not come up (or not in time); the message names its log file."""


def free_port() -> int:
    """A port free right now on 127.0.0.1 (start-up retries if another process takes it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def server_command(server: str, *, asgi: str, port: int) -> list[str]:
    """The arguments after `python` that start one worker of `server` on `port`."""
    if server == "daphne":
        return ["-m", "daphne", "-b", HOST, "-p", str(port), asgi]
    if server == "uvicorn":
        return [
            "-m",
            "uvicorn",
            asgi,
            "--host",
            HOST,
            "--port",
            str(port),
            # The websockets library the project already pins, through uvicorn's
            # sans-I/O protocol (its default; the legacy one is deprecated).
            "--ws",
            "websockets-sansio",
            "--ws-ping-interval",
            str(PING_INTERVAL),
            "--ws-ping-timeout",
            str(PING_TIMEOUT),
            "--ws-max-size",
            str(WS_MAX_MESSAGE),
            # daphne (autobahn, as daphne sets it up) negotiates no compression.
            "--ws-per-message-deflate",
            "false",
            # daphne here runs without --proxy-headers; uvicorn would otherwise trust
            # X-Forwarded-For from 127.0.0.1, i.e. from the nginx front.
            "--no-proxy-headers",
            # Channels' ProtocolTypeRouter has no "lifespan" route.
            "--lifespan",
            "off",
            "--timeout-graceful-shutdown",
            str(APP_CLOSE_TIMEOUT),
            # Requests are logged by chatsite.request (LOG_LEVEL, REQUEST_LOG_LEVEL).
            "--no-access-log",
            "--log-level",
            "warning",
        ]
    raise ValueError(f"unknown server {server!r}; one of {', '.join(SERVERS)}")


class Worker:
    """One server process (daphne or uvicorn); keeps its port (and so its URL) across
    restarts."""

    def __init__(self, index: int, port: int, log_path: Path) -> None:
        self.index = index
        self.port = port
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{HOST}:{self.port}{WS_PATH}"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def spawn(
        self, *, asgi: str, env: Mapping[str, str], cwd: Path, server: str = "daphne"
    ) -> None:
        arguments = server_command(server, asgi=asgi, port=self.port)
        if sys.platform == "linux" and threading.current_thread() is threading.main_thread():
            # PDEATHSIG fires when the spawning *thread* exits, so only from the main one.
            command = [sys.executable, "-c", _LAUNCHER, str(os.getpid()), *arguments]
        else:
            command = [sys.executable, *arguments]
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in reap()
        self._log.write(
            f"--- {time.strftime('%H:%M:%S')} starting {server} worker on port "
            f"{self.port}\n".encode()
        )
        self._log.flush()
        self.process = subprocess.Popen(
            command,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C in a terminal reaches us, not the workers
        )

    def signal(self, signum: int) -> None:
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signum)

    def reap(self, timeout: float) -> None:
        """Wait up to `timeout` for the process to exit, then SIGKILL it and wait."""
        if self.process is not None:
            try:
                self.process.wait(timeout=max(timeout, 0))
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


NGINX_CONF = """\
worker_processes 1;
user root;
pid {prefix}/nginx.pid;
error_log {prefix}/nginx-error.log warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    map $http_upgrade $connection_upgrade {{ default upgrade; "" close; }}
    upstream chat_web {{
{servers}
    }}
    server {{
        listen {host}:{port};
        location / {{
            proxy_pass http://chat_web;
            proxy_http_version 1.1;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_read_timeout 3600s;
        }}
{files_location}    }}
}}
"""

# The internal location the file view's X-Accel-Redirect names (deploy/nginx.conf has
# the same): only nginx itself may go there, never a request from outside.
FILES_LOCATION = """\
        location {prefix} {{
            internal;
            alias {media_root}/;
            default_type application/octet-stream;
            add_header X-Content-Type-Options nosniff always;
            add_header Content-Security-Policy $upstream_http_content_security_policy always;
            add_header Cross-Origin-Resource-Policy same-origin always;
            add_header Cache-Control $upstream_http_cache_control always;
        }}
"""


def nginx_binary() -> str | None:
    """Debian's nginx, if installed."""
    for candidate in ("/usr/sbin/nginx", "/usr/bin/nginx"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


class NginxFront:
    """nginx on a loopback port, balancing over the workers (round robin), proxying
    WebSocket upgrades: the compose file's topology without Docker."""

    def __init__(
        self,
        worker_ports: list[int],
        log_dir: Path,
        *,
        files_prefix: str = "",
        media_root: str = "",
    ) -> None:
        binary = nginx_binary()
        if binary is None:
            raise WorkerFailed("nginx is not installed (apt-get install nginx)")
        self.binary = binary
        self.prefix = Path(tempfile.mkdtemp(prefix="nginx-", dir=log_dir))
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        servers = "\n".join(f"        server {HOST}:{port};" for port in worker_ports)
        self.conf = self.prefix / "nginx.conf"
        files_location = (
            FILES_LOCATION.format(prefix=files_prefix, media_root=media_root.rstrip("/"))
            if files_prefix and media_root
            else ""
        )
        self.conf.write_text(
            NGINX_CONF.format(
                prefix=self.prefix,
                servers=servers,
                host=HOST,
                port=self.port,
                files_location=files_location,
            )
        )
        self.process: subprocess.Popen | None = None

    def start(self, *, deadline: float) -> None:
        self.process = subprocess.Popen(
            [self.binary, "-p", str(self.prefix), "-c", str(self.conf), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = self.prefix / "nginx-error.log"
                raise WorkerFailed(f"nginx exited: {_tail(log) if log.exists() else ''}")
            try:
                with _opener.open(self.url + READY_PATH, timeout=2) as response:
                    if response.status < 500:
                        return
            except urllib.error.HTTPError as error:
                if error.code < 500:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise WorkerFailed("nginx did not answer in time")

    def stop(self, timeout: float) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)


class Stack:
    """N daphne (or, with server="uvicorn", uvicorn) workers on loopback ports. Use as
    a context manager, or call start() and stop() (stop is idempotent and always
    reaps)."""

    def __init__(
        self,
        workers: int = 2,
        *,
        database_url: str,
        redis_url: str | None = None,
        env: Mapping[str, str] | None = None,
        asgi: str = "chatsite.asgi:application",
        cwd: Path | str = PROJECT_DIR,
        log_dir: Path | str | None = None,
        start_timeout: float = 30.0,
        stop_timeout: float = 10.0,
        nginx: bool = False,
        server: str = "daphne",
    ) -> None:
        if workers < 1:
            raise ValueError("A stack needs at least one worker.")
        if server not in SERVERS:
            raise ValueError(f"Unknown server {server!r}; one of {', '.join(SERVERS)}.")
        self.server = server
        self.worker_count = workers
        self.database_url = database_url
        self.redis_url = redis_url
        self.extra_env = dict(env or {})
        self.asgi = asgi
        self.cwd = Path(cwd)
        self.log_dir = Path(log_dir) if log_dir else None
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.workers: list[Worker] = []
        # With nginx=True, Debian's nginx balances HTTP and WebSocket upgrades over the
        # workers, as the compose file's nginx does: `front_url` / `front_ws_url`.
        self.want_nginx = nginx
        self.nginx: NginxFront | None = None

    # --- what callers read ----------------------------------------------------------

    @property
    def urls(self) -> list[str]:
        return [worker.url for worker in self.workers]

    @property
    def ws_urls(self) -> list[str]:
        """The chat socket endpoint of each worker (`ws://127.0.0.1:PORT/ws/chat/`)."""
        return [worker.ws_url for worker in self.workers]

    @property
    def front_url(self) -> str:
        if self.nginx is None:
            raise RuntimeError("This stack runs no nginx (Stack(..., nginx=True)).")
        return self.nginx.url

    @property
    def front_ws_url(self) -> str:
        return self.front_url.replace("http://", "ws://") + WS_PATH

    @property
    def ports(self) -> list[int]:
        return [worker.port for worker in self.workers]

    @property
    def log_paths(self) -> list[Path]:
        return [worker.log_path for worker in self.workers]

    def environment(self) -> dict[str, str]:
        """The environment every worker gets (also used to run `migrate`)."""
        env = dict(os.environ)
        env.pop("REDIS_URL", None)  # only the layer this stack was asked for
        env.update(
            DJANGO_SETTINGS_MODULE="chatsite.settings",
            DATABASE_URL=self.database_url,
            DEBUG="true",
            PYTHONUNBUFFERED="1",
        )
        if self.redis_url:
            env["REDIS_URL"] = self.redis_url
        env.update(self.extra_env)
        return env

    # --- life cycle -----------------------------------------------------------------

    def start(self) -> Stack:
        if self.workers:
            raise RuntimeError("This stack is already started.")
        if self.log_dir is None:
            self.log_dir = Path(tempfile.mkdtemp(prefix="chat-stack-"))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        _running.add(self)
        try:
            for index in range(self.worker_count):
                worker = Worker(index, free_port(), self.log_dir / f"worker-{index}.log")
                self.workers.append(worker)
                self._spawn(worker)
            deadline = time.monotonic() + self.start_timeout
            for worker in self.workers:
                self._wait_ready(worker, deadline, new_port_on_conflict=True)
            if self.want_nginx:
                env = self.environment()
                self.nginx = NginxFront(
                    self.ports,
                    self.log_dir,
                    # With CHAT_FILES_ACCEL_REDIRECT, nginx serves the files the view
                    # lets through, from MEDIA_ROOT, as in the compose stack.
                    files_prefix=env.get("CHAT_FILES_ACCEL_REDIRECT", ""),
                    media_root=env.get("MEDIA_ROOT", ""),
                )
                self.nginx.start(deadline=time.monotonic() + self.start_timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Terminate every worker, kill those still running after stop_timeout, reap."""
        if self.nginx is not None:
            self.nginx.stop(self.stop_timeout)
        for worker in self.workers:
            worker.signal(signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        for worker in self.workers:
            worker.reap(deadline - time.monotonic())
        _running.discard(self)

    def kill_worker(self, index: int) -> None:
        """SIGKILL one worker, as a crash or an OOM kill would; its sockets just drop."""
        worker = self.workers[index]
        worker.signal(signal.SIGKILL)
        worker.reap(self.stop_timeout)

    def restart_worker(self, index: int) -> None:
        """Stop the worker if it runs, then start it again on the same port."""
        worker = self.workers[index]
        worker.signal(signal.SIGTERM)
        worker.reap(self.stop_timeout)
        self._spawn(worker)
        try:
            self._wait_ready(worker, time.monotonic() + self.start_timeout)
        except BaseException:
            worker.signal(signal.SIGKILL)
            worker.reap(self.stop_timeout)
            raise

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # --- helpers --------------------------------------------------------------------

    def _spawn(self, worker: Worker) -> None:
        worker.spawn(asgi=self.asgi, env=self.environment(), cwd=self.cwd, server=self.server)

    def _wait_ready(self, worker: Worker, deadline: float, *, new_port_on_conflict=False):
        """Poll GET /accounts/login/ until it answers below 500, the worker exits, or the
        deadline passes. A worker that lost its port to another process is moved to a
        fresh one (start-up only: a restart keeps its URL or fails)."""
        attempts = 1
        while True:
            if not worker.alive:
                worker.reap(0)
                log = _tail(worker.log_path)
                lost_port = any(failure in log for failure in LISTEN_FAILURES)
                if new_port_on_conflict and lost_port and attempts < PORT_ATTEMPTS:
                    attempts += 1
                    # Keep the lost attempt's log beside, not in, the worker's log: its
                    # CRITICAL "Listen failure" is not a fault of the worker that runs.
                    lost = worker.log_path.with_name(
                        f"{worker.log_path.stem}.lost-port-{attempts}.txt"
                    )
                    worker.log_path.replace(lost)
                    worker.port = free_port()
                    self._spawn(worker)
                    continue
                raise WorkerFailed(
                    f"worker {worker.index} exited with status {worker.process.returncode} "
                    f"before answering; log: {worker.log_path}\n{log}"
                )
            status = self._probe(worker)
            if status is not None and status < 500:
                return
            if status is not None:
                raise WorkerFailed(
                    f"worker {worker.index} answered {READY_PATH} with {status}; "
                    f"log: {worker.log_path}\n{_tail(worker.log_path)}"
                )
            if time.monotonic() > deadline:
                raise WorkerFailed(
                    f"worker {worker.index} did not answer {worker.url}{READY_PATH} within "
                    f"{self.start_timeout:g}s; log: {worker.log_path}\n{_tail(worker.log_path)}"
                )
            time.sleep(0.1)

    @staticmethod
    def _probe(worker: Worker) -> int | None:
        """The HTTP status of the readiness page, or None if nothing answers yet."""
        try:
            with _opener.open(worker.url + READY_PATH, timeout=2) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code
        except (urllib.error.URLError, OSError):
            return None


@atexit.register
def _stop_forgotten_stacks() -> None:
    for stack in list(_running):
        stack.stop()


# --- command line ---------------------------------------------------------------------


def migrate(*, database_url: str, redis_url: str | None, cwd: Path = PROJECT_DIR) -> None:
    env = Stack(1, database_url=database_url, redis_url=redis_url).environment()
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=cwd,
        env=env,
        check=True,
        timeout=300,
    )


def env_pairs(parser: argparse.ArgumentParser, items: list[str]) -> dict[str, str]:
    """The repeatable `--env NAME=VALUE` option of the bench commands, as a dict."""
    pairs = {}
    for item in items:
        name, separator, value = item.partition("=")
        if not separator or not name:
            parser.error(f"--env takes NAME=VALUE, got {item!r}")
        pairs[name] = value
    return pairs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.stack",
        description="Migrate, start N daphne (or uvicorn) workers on loopback, run until Ctrl-C.",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--server", choices=SERVERS, default="daphne", help="default daphne")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", f"sqlite:///{PROJECT_DIR / 'db.sqlite3'}"),
    )
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL") or None)
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="extra worker setting"
    )
    parser.add_argument("--log-dir", default=None)
    parser.add_argument("--start-timeout", type=float, default=60.0)
    parser.add_argument("--no-migrate", action="store_true")
    parser.add_argument(
        "--nginx", action="store_true", help="put Debian's nginx in front (if installed)"
    )
    args = parser.parse_args(argv)

    extra_env = env_pairs(parser, args.env)
    if args.workers > 1 and not args.redis_url:
        print(
            "warning: no --redis-url: each worker has its own in-memory channel layer, "
            "so sockets on different workers do not hear each other",
            file=sys.stderr,
        )

    # SIGTERM (from a supervisor or `kill`) shuts down as cleanly as Ctrl-C.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    if not args.no_migrate:
        migrate(database_url=args.database_url, redis_url=args.redis_url)
    stack = Stack(
        args.workers,
        database_url=args.database_url,
        redis_url=args.redis_url,
        env=extra_env,
        log_dir=args.log_dir,
        start_timeout=args.start_timeout,
        nginx=args.nginx and nginx_binary() is not None,
        server=args.server,
    )
    try:
        stack.start()
        print(f"logs: {stack.log_dir}")
        for worker in stack.workers:
            print(f"{args.server} worker {worker.index}: {worker.url}  {worker.ws_url}")
        if stack.nginx is not None:
            print(f"nginx in front: {stack.front_url}  {stack.front_ws_url}")
        print("Ctrl-C to stop.", flush=True)
        reported: set[int] = set()
        while True:
            time.sleep(1)
            for worker in stack.workers:
                if not worker.alive and worker.index not in reported:
                    reported.add(worker.index)
                    print(
                        f"worker {worker.index} exited; log: {worker.log_path}",
                        file=sys.stderr,
                        flush=True,
                    )
    except KeyboardInterrupt:
        print("stopping", file=sys.stderr)
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
