"""A redis-server of our own on a free loopback port: for tests that stop Redis, and
for the bench's two-server topology (bench/scenarios/shards.py). It keeps its port
across restarts and dies with the thread that started it (Linux), so a killed run
never leaves a server behind; the machine's shared Redis is never touched."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import redis

from bench.stack import free_port

# Exec'd in the child: Linux SIGKILLs it when the thread that started it exits.
_DIE_WITH_PARENT = """\
import ctypes, os, signal, sys
try:
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
except (OSError, AttributeError):
    pass
os.execv(sys.argv[1], sys.argv[1:])
"""


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class RedisServer:
    """redis-server (the `binary`) with its files in `directory`, on a free port."""

    def __init__(self, binary: str, directory: Path) -> None:
        self.binary = binary
        self.directory = directory
        self.port = free_port()
        self.log_path = directory / "redis.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10) -> None:
        argv = [
            self.binary,
            *("--port", str(self.port), "--bind", "127.0.0.1"),
            *("--save", "", "--appendonly", "no", "--dir", str(self.directory)),
        ]
        if sys.platform == "linux" and threading.current_thread() is threading.main_thread():
            argv = [sys.executable, "-c", _DIE_WITH_PARENT, *argv]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited:\n{tail(self.log_path)}")
            client = redis.Redis(port=self.port, socket_timeout=1, socket_connect_timeout=1)
            try:
                if client.ping():
                    return
            except redis.RedisError:
                pass
            finally:
                client.close()
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server not answering:\n{tail(self.log_path)}")
            time.sleep(0.05)

    def stop(self, signum: int = signal.SIGKILL) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signum)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
