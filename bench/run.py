"""The benchmark: the chat site against a bare broadcast app, on the same stack.

    python -m bench.run            # or: make bench BENCH_ARGS="--rates 2,15"

One run creates its own PostgreSQL database, starts daphne workers (bench.stack) on
the real Redis, and measures, for each load level and each channels-redis layer
(RedisChannelLayer "core", RedisPubSubChannelLayer "pubsub"):

- the project: chatsite.asgi, Bearer-token sockets, every message stored in
  PostgreSQL before it is broadcast;
- the bare app: bench.bare, the Channels tutorial's broadcast with no auth or storage.

Both get the same workers, the same rooms x members, the same sender rate and the same
layer configuration (bench.bare_settings reads the project's CHANNEL_LAYERS). It prints
a table with project / bare ratios and a layer comparison, and writes everything, with
the machine's description, to bench/results/bench-<time>-<id>.json.

Every scenario runs under a Redis key prefix of its own (CHANNEL_PREFIX), whose keys
are deleted afterwards; nothing else in Redis is touched. The database is dropped at the
end unless --keep-db or --database-url is given.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
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
    "Twisted",
    "redis",
    "websockets",
    "psycopg",
    "msgpack",
]
APPS = ("project", "bare")
LAYERS = ("core", "pubsub")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Scenario:
    app: str  # "project" or "bare"
    layer: str  # "core" or "pubsub"
    rate: float  # messages per second per room

    @property
    def name(self) -> str:
        return f"{self.app}-{self.layer}-{self.rate:g}"


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
    client = redis.Redis.from_url(redis_url)
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
    """Delete this scenario's keys (SCAN + DEL under its own prefix; never FLUSHDB)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    deleted = 0
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


# --- profiling (optional) -------------------------------------------------------------


def profile_path(run_id: str, scenario: Scenario, worker: int) -> Path:
    return RESULTS_DIR / f"profile-{run_id}-{scenario.name}-worker{worker}.txt"


def start_profiler(py_spy: str, pid: int, output: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling one worker (all threads) until stopped, in collapsed-stack form."""
    output.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [py_spy, "record", "--nonblocking", "--format", "raw", "--rate", "200"]
        + ["--output", str(output), "--pid", str(pid)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop_profilers(profilers: list[subprocess.Popen[bytes]]) -> None:
    """SIGINT makes py-spy write its file; then reap."""
    for profiler in profilers:
        if profiler.poll() is None:
            profiler.send_signal(signal.SIGINT)
    for profiler in profilers:
        try:
            profiler.wait(timeout=30)
        except subprocess.TimeoutExpired:
            profiler.kill()
            profiler.wait()
    profilers.clear()


# --- one scenario ----------------------------------------------------------------------


def scenario_env(scenario: Scenario, prefix: str, extra: dict[str, str]) -> dict[str, str]:
    env = {
        "CHANNEL_PREFIX": prefix,
        "CHANNEL_BACKEND": scenario.layer,
        # The per-user posting limit is the product working as designed; it must not
        # cap a benchmark whose senders post far faster than a person types.
        "CHAT_SEND_BURST": "1000000",
        "LOG_LEVEL": "WARNING",
    }
    env.update(extra)
    if scenario.app == "bare":
        env["DJANGO_SETTINGS_MODULE"] = "bench.bare_settings"
    return env


def project_plan(
    *, database_url: str, redis_url: str, env: dict[str, str], rooms: int, members: int, tag: str
) -> list[load.RoomPlan]:
    """Users, tokens and rooms for one project scenario, made by bench.project_setup in
    a child process with the workers' own environment."""
    child_env = Stack(1, database_url=database_url, redis_url=redis_url, env=env).environment()
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.project_setup",
            f"--rooms={rooms}",
            f"--members={members}",
            f"--tag={tag}",
        ],
        cwd=PROJECT_DIR,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"bench.project_setup failed:\n{completed.stderr[-3000:]}")
    return load.project_plan(json.loads(completed.stdout))


def run_scenario(
    scenario: Scenario,
    *,
    index: int,
    run_id: str,
    args: argparse.Namespace,
    database_url: str,
) -> dict[str, Any]:
    prefix = f"chatbench{run_id}s{index}-"
    env = scenario_env(scenario, prefix, args.extra_env)
    config = load.LoadConfig(
        rooms=args.rooms,
        members=args.members,
        rate=scenario.rate,
        duration=args.duration,
        drain=args.drain,
        stall=args.stall,
        body_size=args.body_size,
    )
    if scenario.app == "project":
        plan = project_plan(
            database_url=database_url,
            redis_url=args.redis_url,
            env=env,
            rooms=args.rooms,
            members=args.members,
            tag=f"{run_id}s{index}",
        )
        asgi = "chatsite.asgi:application"
    else:
        plan = load.bare_plan(args.rooms, args.members)
        asgi = "bench.bare:application"

    busy_before = wait_until_quiet(args.wait_idle)
    marks: dict[str, tuple[float, float, list[float]]] = {}
    try:
        with Stack(
            args.workers,
            database_url=database_url,
            redis_url=args.redis_url,
            env=env,
            asgi=asgi,
            start_timeout=60,
        ) as stack:
            pids = [worker.process.pid for worker in stack.workers]

            profilers: list[subprocess.Popen[bytes]] = []

            def on_phase(phase: str) -> None:
                busy, total = system_cpu()
                marks[phase] = (busy, total, [process_cpu(pid) for pid in pids])
                if args.py_spy and phase == "sending":
                    profilers.extend(
                        start_profiler(args.py_spy, pid, profile_path(run_id, scenario, i))
                        for i, pid in enumerate(pids)
                    )
                elif phase == "drained":
                    stop_profilers(profilers)

            result = asyncio.run(
                load.run_load(
                    target=scenario.app,
                    urls=stack.ws_urls,
                    plan=plan,
                    config=config,
                    on_phase=on_phase,
                )
            )
            stop_profilers(profilers)
    finally:
        delete_redis_prefix(args.redis_url, prefix)

    data = result.as_dict()
    data.update(app=scenario.app, layer=scenario.layer, name=scenario.name)
    if "sending" in marks and "drained" in marks:
        busy_0, total_0, workers_0 = marks["sending"]
        busy_1, total_1, workers_1 = marks["drained"]
        worker_cpu = sum(workers_1) - sum(workers_0)
        wall = (total_1 - total_0) / (os.cpu_count() or 1)
        data["server"] = {
            "worker_cpu_seconds": round(worker_cpu, 2),
            "worker_cpu_ms_per_delivery": (
                round(1000 * worker_cpu / result.delivered, 3) if result.delivered else None
            ),
            "machine_busy_share": round((busy_1 - busy_0) / max(total_1 - total_0, 1e-9), 3),
            "wall_seconds": round(wall, 2),
        }
    data["machine_busy_before"] = round(busy_before, 3)
    return data


# --- report ------------------------------------------------------------------------------


def ratio(numerator: float | None, denominator: float | None) -> str:
    if not numerator or not denominator:
        return "-"
    return f"{numerator / denominator:.2f}x"


def integrity(row: dict[str, Any]) -> str:
    text = f"{row['lost']}/{row['duplicated']}/{row['out_of_order']}"
    if row.get("in_flight"):
        text += f" (+{row['in_flight']} queued at drain limit)"
    return text


def format_tables(results: list[dict[str, Any]], rates: list[float], layers: list[str]) -> str:
    by_key = {(r["app"], r["layer"], r["rate"]): r for r in results if "error" not in r}
    lines = []
    header = (
        f"{'rate/room':>9} {'layer':<6} {'metric':<24} {'project':>12} {'bare':>12} "
        f"{'project/bare':>12}"
    )
    lines += ["Project vs bare broadcast app", header, "-" * len(header)]
    for rate in rates:
        for layer in layers:
            project = by_key.get(("project", layer, rate))
            bare = by_key.get(("bare", layer, rate))
            if not project or not bare:
                continue
            rows = [
                ("offered deliveries/s", project["offered"], bare["offered"], None),
                (
                    "deliveries/s",
                    project["deliveries_per_second"],
                    bare["deliveries_per_second"],
                    ratio(project["deliveries_per_second"], bare["deliveries_per_second"]),
                ),
                (
                    "latency p50 ms",
                    project["latency_ms"]["p50"],
                    bare["latency_ms"]["p50"],
                    ratio(project["latency_ms"]["p50"], bare["latency_ms"]["p50"]),
                ),
                (
                    "latency p99 ms",
                    project["latency_ms"]["p99"],
                    bare["latency_ms"]["p99"],
                    ratio(project["latency_ms"]["p99"], bare["latency_ms"]["p99"]),
                ),
                (
                    "worker CPU ms/delivery",
                    project.get("server", {}).get("worker_cpu_ms_per_delivery"),
                    bare.get("server", {}).get("worker_cpu_ms_per_delivery"),
                    ratio(
                        project.get("server", {}).get("worker_cpu_ms_per_delivery"),
                        bare.get("server", {}).get("worker_cpu_ms_per_delivery"),
                    ),
                ),
                ("lost/dup/out-of-order", integrity(project), integrity(bare), None),
            ]
            for label, project_value, bare_value, ratio_text in rows:
                lines.append(
                    f"{rate:>9g} {layer:<6} {label:<24} {project_value!s:>12} "
                    f"{bare_value!s:>12} {ratio_text or '':>12}"
                )
            lines.append("")
    if len(layers) > 1:
        header = (
            f"{'rate/room':>9} {'app':<8} {'layer':<6} {'deliveries/s':>12} {'p50 ms':>9} "
            f"{'p99 ms':>9} {'CPU ms/dlv':>10} {'lost/dup/ooo':>13} {'errors':>6}"
        )
        lines += ["Layer comparison", header, "-" * len(header)]
        for rate in rates:
            for app in APPS:
                for layer in layers:
                    row = by_key.get((app, layer, rate))
                    if not row:
                        continue
                    lines.append(
                        f"{rate:>9g} {app:<8} {layer:<6} {row['deliveries_per_second']:>12} "
                        f"{row['latency_ms']['p50']:>9} {row['latency_ms']['p99']:>9} "
                        f"{row.get('server', {}).get('worker_cpu_ms_per_delivery')!s:>10} "
                        f"{integrity(row):>13} {row['errors']:>6}"
                    )
        lines.append("")
    return "\n".join(lines)


# --- the command -----------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--workers", type=int, default=2, help="daphne workers (default 2)")
    parser.add_argument("--rooms", type=int, default=10)
    parser.add_argument("--members", type=int, default=20, help="sockets per room")
    parser.add_argument(
        "--rates",
        default="2,15",
        help="messages per second per room, one scenario set per value (default 2,15: "
        "a steady load both apps carry, and an overload that finds their capacity)",
    )
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of sending")
    parser.add_argument("--drain", type=float, default=15.0, help="max seconds to drain")
    parser.add_argument(
        "--stall", type=float, default=3.0, help="end the drain after this long with no delivery"
    )
    parser.add_argument("--body-size", type=int, default=100)
    parser.add_argument("--layers", default="core,pubsub", help="core, pubsub or both")
    parser.add_argument("--apps", default="project,bare", help="project, bare or both")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES, help="server, no db name")
    parser.add_argument(
        "--database-url", default=None, help="use this (migrated here) database, kept after"
    )
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL") or DEFAULT_REDIS)
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each scenario, wait up to this long for the machine to be idle",
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra worker setting for every scenario, e.g. DB_CONN_MAX_AGE=60 (repeatable)",
    )
    parser.add_argument("--output", default=None, help="JSON path (default bench/results/)")
    parser.add_argument(
        "--py-spy",
        default=None,
        metavar="PATH",
        help="py-spy binary: profile every worker while sending (bench/results/profile-*)",
    )
    args = parser.parse_args(argv)
    args.extra_env = {}
    for item in args.env:
        name, separator, value = item.partition("=")
        if not separator or not name:
            parser.error(f"--env takes NAME=VALUE, got {item!r}")
        args.extra_env[name] = value
    args.rate_list = [float(v) for v in args.rates.split(",") if v.strip()]
    args.layer_list = [v.strip() for v in args.layers.split(",") if v.strip()]
    args.app_list = [v.strip() for v in args.apps.split(",") if v.strip()]
    for layer in args.layer_list:
        if layer not in LAYERS:
            parser.error(f"unknown layer {layer!r}")
    for app in args.app_list:
        if app not in APPS:
            parser.error(f"unknown app {app!r}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    run_id = uuid.uuid4().hex[:8]
    started = time.time()
    scenarios = [
        Scenario(app, layer, rate)
        for rate in args.rate_list
        for layer in args.layer_list
        for app in args.app_list
    ]
    info = machine()
    busy = machine_busy(1.0)
    print(
        f"{info['nproc']} x {info['cpu_model']}, {info['memory_gib']} GiB, "
        f"Python {info['python']}; machine {busy:.0%} busy before the run",
        flush=True,
    )
    if busy > 0.15:
        print(
            "warning: other processes are using the CPU; figures will be lower and noisier",
            flush=True,
        )

    database_name = None
    if args.database_url:
        database_url = args.database_url
    else:
        database_name = f"chatbench_{run_id}"
        database_url = create_database(args.postgres_url, database_name)
    results: list[dict[str, Any]] = []
    try:
        info["servers"] = server_versions(
            postgres_url=f"{args.postgres_url}/postgres", redis_url=args.redis_url
        )
        migrate_quietly(database_url, args.redis_url)
        for index, scenario in enumerate(scenarios):
            try:
                row = run_scenario(
                    scenario, index=index, run_id=run_id, args=args, database_url=database_url
                )
            except Exception as exc:  # one broken scenario must not lose the others
                print(f"  {scenario.name:<22} FAILED: {exc}", flush=True)
                results.append(
                    {
                        "name": scenario.name,
                        "app": scenario.app,
                        "layer": scenario.layer,
                        "rate": scenario.rate,
                        "error": f"{type(exc).__name__}: {exc}"[:4000],
                    }
                )
                continue
            row["offered"] = round(args.rooms * args.members * scenario.rate)
            results.append(row)
            print(
                f"  {scenario.name:<22} {row['deliveries_per_second']:>8} deliveries/s  "
                f"p50 {row['latency_ms']['p50']:>8} ms  p99 {row['latency_ms']['p99']:>8} ms  "
                f"lost/dup/ooo {integrity(row)}  errors {row['errors']}  "
                f"machine busy {row['machine_busy_before']:.0%} before",
                flush=True,
            )
    finally:
        if database_name and not args.keep_db:
            drop_database(args.postgres_url, database_name)

    tables = format_tables(results, args.rate_list, args.layer_list)
    print()
    print(tables)
    document = {
        "command": "python -m bench.run " + " ".join(argv if argv is not None else sys.argv[1:]),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "seconds": round(time.time() - started, 1),
        "machine": info,
        "code": code_version(),
        "machine_busy_before": round(busy, 3),
        "config": {
            "workers": args.workers,
            "rooms": args.rooms,
            "members": args.members,
            "rates": args.rate_list,
            "duration": args.duration,
            "drain": args.drain,
            "stall": args.stall,
            "body_size": args.body_size,
            "layers": args.layer_list,
            "apps": args.app_list,
            "env": args.extra_env,
        },
        "scenarios": results,
    }
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(started))
    output = Path(args.output) if args.output else RESULTS_DIR / f"bench-{stamp}-{run_id}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {output} ({document['seconds']} s)")
    clean = all(
        "error" not in r and r["lost"] == r["duplicated"] == r["out_of_order"] == 0 for r in results
    )
    return 0 if clean else 1


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


if __name__ == "__main__":
    sys.exit(main())
