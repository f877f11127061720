"""shards: four workers on two Redis servers against two workers on one.

The fan-out load (10 rooms x 20 members) at `--shards-rate` msg/s per room, project and
bare, on (a) two workers and the run's Redis and (b) `--shards-workers` (4) workers
and two Redis servers: the run's and one started here (bench.redis_server, a free
loopback port, stopped afterwards). With two servers REDIS_URL names both, so
channels-redis shards channels and groups over them and the project's presence,
posting limits and cache are spread by key (chatsite/redis_shards.py). Figures: as
fanout, plus each Redis server's share of the keys while every socket had joined, and
the 4-worker / 2-worker ratio per app.

On this machine's two cores four workers, two Redis servers, PostgreSQL and the load
generator all share the CPUs: the scenario shows the topology works and what it costs
or gains here, not what four cores would give.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import shutil
import tempfile
from pathlib import Path
from typing import Any

from bench.common import Context, integrity
from bench.redis_server import RedisServer
from bench.scenarios.fanout import (
    OVERLOAD_ENV,
    Case,
    cpu_per_delivery,
    errors_lines,
    project_over_bare,
    run_case,
    second_over_first,
)


def with_redis(ctx: Context, redis_url: str) -> Context:
    """The run's context, its stacks on `redis_url` (the same database and tag counter)."""
    args: argparse.Namespace = copy.copy(ctx.args)
    args.redis_url = redis_url
    return dataclasses.replace(ctx, args=args)


def run(ctx: Context) -> dict[str, Any]:
    args = ctx.args
    binary = shutil.which("redis-server")
    if binary is None:
        return {"error": "redis-server is not installed: cannot start a second server"}
    directory = Path(tempfile.mkdtemp(prefix="chatbench-redis-"))
    second = RedisServer(binary, directory)
    second.start()
    setups = [
        ("one", 2, ctx),
        ("two", args.shards_workers, with_redis(ctx, f"{args.redis_url},{second.url}")),
    ]
    try:
        cases = [
            {
                **run_case(
                    setup_ctx,
                    Case(
                        app,
                        args.suite_layer,
                        args.shards_rate,
                        rooms=args.rooms,
                        members=args.members,
                        workers=workers,
                        family=f"shards-{servers}-redis-w{workers}",
                        env=OVERLOAD_ENV,
                    ),
                ),
                "redis_servers": 1 if servers == "one" else 2,
            }
            for servers, workers, setup_ctx in setups
            for app in args.app_list
        ]
    finally:
        second.stop()
        shutil.rmtree(directory, ignore_errors=True)
    rows = {(r["app"], r["redis_servers"]): r for r in cases if "error" not in r}
    gain = second_over_first(rows, args.app_list, 1, 2)
    return {
        "config": {
            "rate": args.shards_rate,
            "rooms": args.rooms,
            "members": args.members,
            "layer": args.suite_layer,
            "setups": [
                {"redis_servers": 1, "workers": 2},
                {"redis_servers": 2, "workers": args.shards_workers},
            ],
        },
        "cases": cases,
        "two_servers_over_one": gain,
    }


def format_table(result: dict[str, Any]) -> str:
    if "error" in result:
        return f"Shards: {result['error']}\n"
    config = result["config"]
    workers = config["setups"][1]["workers"]
    rows = {(r["app"], r["redis_servers"]): r for r in result["cases"] if "error" not in r}
    header = (
        f"{'app':<13} {'2w, 1 Redis dlv/s':>18} {f'{workers}w, 2 Redis dlv/s':>19} "
        f"{'ratio':>6} {'CPU ms/dlv':>16} {'keys per server':>18} {'lost/dup/ooo':>18}"
    )
    lines = [
        f"Shards: {config['rooms']} rooms x {config['members']} at {config['rate']:g} msg/s "
        f"per room, layer {config['layer']}",
        header,
        "-" * len(header),
    ]
    for app in ("project", "bare"):
        one, two = rows.get((app, 1)), rows.get((app, 2))
        if not one and not two:
            continue
        lines.append(
            f"{app:<13} {(one or {}).get('deliveries_per_second')!s:>18} "
            f"{(two or {}).get('deliveries_per_second')!s:>19} "
            f"{result['two_servers_over_one'].get(app, '-')!s:>6} "
            f"{f'{cpu_per_delivery(one)} / {cpu_per_delivery(two)}':>16} "
            f"{str((two or {}).get('redis_keys_per_server')):>18} "
            f"{(integrity(one) if one else '-') + ', ' + (integrity(two) if two else '-'):>18}"
        )
    project_bare = project_over_bare(rows, (1, 2))
    lines.append(f"{'project/bare':<13} {project_bare[0]:>18} {project_bare[1]:>19}")
    lines += errors_lines(result["cases"])
    lines.append("")
    return "\n".join(lines)
