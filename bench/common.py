"""What every benchmark scenario shares: the machine's description, CPU and memory
readings from /proc, the run's database and Redis clean-up, and how a scenario starts
its workers (bench.stack) for the project or the bare app."""

from __future__ import annotations

import argparse
import contextlib
import functools
import itertools
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import load
from bench.stack import PROJECT_DIR, Stack, migrate

RESULTS_DIR = PROJECT_DIR / "bench" / "results"
DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
PACKAGES = [
    "Django",
    "asgiref",
    "channels",
    "channels-redis",
    "daphne",
    "uvicorn",
    "Twisted",
    "redis",
    "websockets",
    "psycopg",
    "msgpack",
]
APPS = ("project", "bare")
LAYERS = ("core", "pubsub")
ASGI = {"project": "chatsite.asgi:application", "bare": "bench.bare:application"}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Context:
    """One run of the suite: its id, options and database, and a counter that gives
    every stack a Redis key prefix (and usernames) of its own."""

    args: argparse.Namespace
    run_id: str
    database_url: str
    _stacks: itertools.count = field(default_factory=itertools.count)

    @property
    def redis_url(self) -> str:
        return self.args.redis_url

    def new_tag(self) -> str:
        return f"{self.run_id}s{next(self._stacks)}"


# --- the machine ---------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu_model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    memory_gib = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    packages = {}
    for name in PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = None
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_gib": memory_gib,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "packages": packages,
    }


def code_version() -> dict[str, Any]:
    """The commit measured, and whether the work tree differed from it (read-only git)."""

    def git(*command: str) -> str:
        completed = subprocess.run(
            ["git", *command], cwd=PROJECT_DIR, capture_output=True, text=True, check=False
        )
        return completed.stdout.strip()

    return {"commit": git("rev-parse", "HEAD") or None, "dirty": bool(git("status", "--porcelain"))}


def server_versions(*, postgres_url: str, redis_url: str) -> dict[str, str]:
    import psycopg
    import redis

    versions = {}
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        versions["postgresql"] = connection.execute("SHOW server_version").fetchone()[0]
    client = redis.Redis.from_url(redis_url.split(",")[0])
    try:
        versions["redis"] = client.info("server")["redis_version"]
    finally:
        client.close()
    return versions


def system_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])
    return (total - idle) / CLOCK_TICKS, total / CLOCK_TICKS


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of one process (all its threads)."""
    try:
        after_name = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(after_name[11]) + int(after_name[12])) / CLOCK_TICKS


def process_rss_kib(pid: int) -> int:
    """Resident memory of one process (VmRSS in /proc/PID/status), KiB; 0 if gone."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def machine_busy(seconds: float = 1.0) -> float:
    """Share of all cores busy over the next `seconds` (0..1)."""
    busy_before, total_before = system_cpu()
    time.sleep(seconds)
    busy_after, total_after = system_cpu()
    return (busy_after - busy_before) / max(total_after - total_before, 1e-9)


def wait_until_quiet(max_wait: float, threshold: float = 0.15) -> float:
    """Sample the machine until under `threshold` busy or `max_wait` seconds passed;
    returns the last sample. A shared machine's other work skews every figure."""
    deadline = time.monotonic() + max_wait
    busy = machine_busy(0.5)
    while busy > threshold and time.monotonic() < deadline:
        busy = machine_busy(2.0)
    return busy


# --- database and Redis ----------------------------------------------------------------


def create_database(postgres_url: str, name: str) -> str:
    import psycopg

    with psycopg.connect(f"{postgres_url}/postgres", autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return f"{postgres_url}/{name}"


def drop_database(postgres_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(f"{postgres_url}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def delete_redis_prefix(redis_url: str, prefix: str) -> int:
    """Delete this scenario's keys (SCAN + DEL under its own prefix; never FLUSHDB), on
    every server a comma-separated `redis_url` names."""
    import redis

    deleted = 0
    for url in redis_url.split(","):
        client = redis.Redis.from_url(url.strip())
        try:
            batch = []
            for key in client.scan_iter(match=f"{prefix}*", count=1000):
                batch.append(key)
                if len(batch) >= 500:
                    deleted += client.delete(*batch)
                    batch = []
            if batch:
                deleted += client.delete(*batch)
        finally:
            client.close()
    return deleted


def redis_keys_per_server(redis_url: str, prefix: str) -> list[int]:
    """How many keys under `prefix` each server of `redis_url` holds (SCAN)."""
    import redis

    counts = []
    for url in redis_url.split(","):
        client = redis.Redis.from_url(url.strip())
        try:
            counts.append(sum(1 for _ in client.scan_iter(match=f"{prefix}*", count=1000)))
        finally:
            client.close()
    return counts


# The project's workers run as in production (DEBUG off: no query log, no debug
# pages), as the bare app always does; plain HTTP on loopback, so no HTTPS redirect.
PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "bench-only-" + "k3y" * 16,
    "SECURE_SSL_REDIRECT": "false",
}


@functools.cache
def collect_static() -> None:
    """Once per run. With DEBUG off the pages (the workers' readiness probe among them) are rendered
    against collected static files, as the Docker image does at build."""
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=PROJECT_DIR,
        # DEBUG off, so the manifest storage the workers read writes its manifest.
        env={**os.environ, **PRODUCTION_ENV, "DJANGO_SETTINGS_MODULE": "chatsite.settings"},
        check=True,
        timeout=300,
    )


def migrate_quietly(database_url: str, redis_url: str) -> None:
    """bench.stack.migrate, with the child's progress lines kept out of the report."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            migrate(database_url=database_url, redis_url=redis_url)
    finally:
        os.dup2(saved, 1)
        os.close(saved)


# --- workers for one app ---------------------------------------------------------------


def prefix_for(tag: str) -> str:
    return f"chatbench{tag}-"


def app_env(app: str, layer: str, prefix: str, extra: dict[str, str]) -> dict[str, str]:
    env = {
        **PRODUCTION_ENV,
        "CHANNEL_PREFIX": prefix,
        "CHANNEL_BACKEND": layer,
        # The per-user posting limit is the product working as designed; it must not
        # cap a benchmark whose senders post far faster than a person types.
        "CHAT_SEND_BURST": "1000000",
        "LOG_LEVEL": "WARNING",
    }
    env.update(extra)
    if app == "bare":
        env["DJANGO_SETTINGS_MODULE"] = "bench.bare_settings"
    return env


def make_stack(
    ctx: Context, *, app: str, env: dict[str, str], workers: int, server: str = "daphne"
) -> Stack:
    if app == "project" and env.get("DEBUG") == "false":
        collect_static()
    return Stack(
        workers,
        database_url=ctx.database_url,
        redis_url=ctx.redis_url,
        env=env,
        asgi=ASGI[app],
        start_timeout=60,
        server=server,
    )


def project_plan(
    ctx: Context,
    *,
    env: dict[str, str],
    rooms: int,
    members: int,
    tag: str,
    bulk: bool = False,
    uploads: int = 0,
) -> list[load.RoomPlan]:
    """Users, tokens and rooms for one project stack, made by bench.project_setup in
    a child process with the workers' own environment."""
    child_env = Stack(
        1, database_url=ctx.database_url, redis_url=ctx.redis_url, env=env
    ).environment()
    arguments = [f"--rooms={rooms}", f"--members={members}", f"--tag={tag}"]
    if bulk:
        arguments.append("--bulk")
    if uploads:
        arguments.append(f"--uploads={uploads}")
    return load.project_plan(run_setup("bench.project_setup", arguments, env=child_env))


def run_setup(module: str, arguments: list[str], *, env: dict[str, str]) -> Any:
    """Run a setup module (bench.project_setup, bench.history_setup) in a child process
    with the workers' environment; returns the JSON it prints."""
    completed = subprocess.run(
        [sys.executable, "-m", module, *arguments],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{module} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout)


# --- reporting ----------------------------------------------------------------------------


def ratio(numerator: float | None, denominator: float | None) -> str:
    if not numerator or not denominator:
        return "-"
    return f"{numerator / denominator:.2f}x"


def integrity(row: dict[str, Any]) -> str:
    text = f"{row['lost']}/{row['duplicated']}/{row['out_of_order']}"
    if row.get("in_flight"):
        text += f" (+{row['in_flight']} queued at drain limit)"
    return text


def error_row(exc: BaseException, **fields: Any) -> dict[str, Any]:
    return {**fields, "error": f"{type(exc).__name__}: {exc}"[:4000]}


def problems(result: Any, where: str = "") -> list[str]:
    """Everything in a scenario's result that makes the run fail: errors, lost,
    duplicated or out-of-order deliveries, wrong answers, a scenario's own `problems`."""
    found: list[str] = []
    if isinstance(result, dict):
        name = result.get("name") or where
        if result.get("error"):
            found.append(f"{name}: {str(result['error']).splitlines()[0]}")
        for key in ("lost", "duplicated", "out_of_order"):
            if isinstance(result.get(key), int) and result[key] > 0:
                found.append(f"{name}: {key} {result[key]}")
        for text in result.get("problems") or []:
            found.append(f"{name}: {text}")
        if result.get("correct") is False:  # history: a page answered wrongly
            found.append(f"{name}: wrong answers")
        for key, value in result.items():
            if isinstance(value, dict | list) and key != "problems":
                found += problems(value, f"{where}/{key}" if where else key)
    elif isinstance(result, list):
        for item in result:
            found += problems(item, where)
    return found


def percentiles_ms(seconds: list[float]) -> dict[str, float | None]:
    values = sorted(seconds)
    if not values:
        return {"p50": None, "p99": None, "max": None}
    return {
        "p50": round(load.percentile(values, 0.50) * 1000, 2),
        "p99": round(load.percentile(values, 0.99) * 1000, 2),
        "max": round(values[-1] * 1000, 2),
    }
