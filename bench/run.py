"""The benchmark: the chat site against a bare broadcast app, on the same stack.

    python -m bench.run                          # or: make bench BENCH_ARGS="..."
    python -m bench.run --suite fanout,idle      # some scenarios only

One run creates its own PostgreSQL database, starts workers (bench.stack) on the real
Redis and runs a suite of scenarios (bench/scenarios/, one module each), each side by
side against the bare app in the same run:

- fanout: R rooms x M members, for each rate and channels-redis layer;
- bigroom: one room of 500 members;
- idle: 5,000 idle sockets, worker memory per socket and connect time;
- longpoll: 1,000 waiting HTTP long polls woken by one message, beside WebSockets;
- longpoll_latency: one socket's send-to-echo latency on one worker beside 0, 1, 100
  and 500 waiting long polls (project only);
- scaling: two workers against one, under overload;
- history: history pages over HTTP at 1,000 and 1,000,000 messages (no bare app);
- servers: daphne against uvicorn;
- rich: the fan-out load with replies (and attachments) in the mix;
- shards: four workers on two Redis servers against two workers on one.

The project is chatsite.asgi with Bearer-token sockets, every message stored in
PostgreSQL before it is broadcast; the bare app is bench.bare, the Channels tutorial's
broadcast with no auth or storage, on the same layer configuration
(bench.bare_settings reads the project's CHANNEL_LAYERS). It prints a table per
scenario with project / bare ratios, writes everything with the machine's description
to bench/results/bench-<time>-<id>.json and draws bench-<time>-<id>.png beside it.

Every stack runs under a Redis key prefix of its own (CHANNEL_PREFIX), whose keys are
deleted afterwards; nothing else in Redis is touched. The database is dropped at the
end unless --keep-db or --database-url is given. The exit status is 1 if any scenario
failed or lost, duplicated or reordered a message.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from bench.common import (
    APPS,
    DEFAULT_POSTGRES,
    DEFAULT_REDIS,
    LAYERS,
    RESULTS_DIR,
    Context,
    code_version,
    create_database,
    drop_database,
    machine,
    machine_busy,
    migrate_quietly,
    problems,
    server_versions,
)
from bench.stack import env_pairs

SUITE = (
    "fanout",
    "bigroom",
    "idle",
    "longpoll",
    "longpoll_latency",
    "scaling",
    "history",
    "servers",
    "rich",
    "shards",
)


def scenario_module(name: str):
    return importlib.import_module(f"bench.scenarios.{name}")


def run_history(ctx: Context) -> dict[str, Any]:
    """history has its own database and signature (bench/scenarios/history.py)."""
    args = ctx.args
    return scenario_module("history").run(
        postgres_url=args.postgres_url,
        redis_url=ctx.redis_url,
        run_id=ctx.run_id,
        sizes=tuple(args.history_size_list),
        pages=args.history_pages,
        extra_env=args.extra_env or None,
    )


def run_scenario(name: str, ctx: Context) -> dict[str, Any]:
    if name == "history":
        return run_history(ctx)
    return scenario_module(name).run(ctx)


def format_scenario(name: str, result: dict[str, Any]) -> str:
    if "error" in result and len(result) <= 2:
        return f"{name}: FAILED {result['error']}\n"
    try:
        return scenario_module(name).format_table(result)
    except Exception as exc:  # the figures are in the JSON even if the table breaks
        return f"{name}: table not printed ({type(exc).__name__}: {exc})\n"


# --- the command -----------------------------------------------------------------------


def number_list(text: str) -> list[float]:
    return [float(v) for v in text.split(",") if v.strip()]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--suite",
        default=",".join(SUITE),
        help=f"scenarios to run, in this order (default: all of {','.join(SUITE)})",
    )
    parser.add_argument("--workers", type=int, default=2, help="workers per stack (default 2)")
    fanout = parser.add_argument_group("fanout (also the shape of scaling and servers)")
    fanout.add_argument("--rooms", type=int, default=10)
    fanout.add_argument("--members", type=int, default=20, help="sockets per room")
    fanout.add_argument(
        "--rates",
        default="2,15",
        help="messages per second per room, one scenario set per value (default 2,15: "
        "a steady load both apps carry, and an overload that finds their capacity)",
    )
    fanout.add_argument("--layers", default="core,pubsub", help="core, pubsub or both")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of sending")
    parser.add_argument("--drain", type=float, default=15.0, help="max seconds to drain")
    parser.add_argument(
        "--stall", type=float, default=3.0, help="end the drain after this long with no delivery"
    )
    parser.add_argument("--body-size", type=int, default=100)
    parser.add_argument("--apps", default="project,bare", help="project, bare or both")
    parser.add_argument(
        "--suite-layer",
        default="core",
        choices=LAYERS,
        help="the layer of every scenario but fanout (default core)",
    )
    bigroom = parser.add_argument_group("bigroom")
    bigroom.add_argument("--bigroom-members", type=int, default=500)
    bigroom.add_argument(
        "--bigroom-rates",
        default="2,8",
        help="msg/s in the room (default 2,8: 1,000 deliveries/s, and an overload)",
    )
    idle = parser.add_argument_group("idle")
    idle.add_argument("--idle-sockets", type=int, default=5000)
    idle.add_argument("--idle-rooms", type=int, default=50, help="rooms they are spread over")
    idle.add_argument("--idle-concurrency", type=int, default=200, help="handshakes in flight")
    idle.add_argument(
        "--idle-hold", type=float, default=5.0, help="seconds held idle before memory is read"
    )
    longpoll = parser.add_argument_group("longpoll")
    longpoll.add_argument("--longpolls", type=int, default=1000, help="waiting polls")
    longpoll.add_argument("--longpoll-concurrency", type=int, default=200)
    latency = parser.add_argument_group(
        "longpoll_latency (one worker; polls ramp at --longpoll-concurrency)"
    )
    latency.add_argument(
        "--longpoll-latency-polls",
        default="0,1,100,500",
        help="waiting polls beside the socket, one measurement per count (0: the baseline)",
    )
    latency.add_argument(
        "--longpoll-latency-rate", type=float, default=20.0, help="socket msg/s (default 20)"
    )
    latency.add_argument(
        "--longpoll-latency-duration",
        type=float,
        default=15.0,
        help="seconds of sending per poll count (default 15: 300 echoes at 20 msg/s)",
    )
    latency.add_argument(
        "--longpoll-latency-wait", type=float, default=25.0, help="each poll's wait= (default 25)"
    )
    latency.add_argument(
        "--longpoll-latency-spread",
        type=float,
        default=0.2,
        help="a poll's first wait is drawn from (SPREAD x wait, wait], spreading the "
        "re-issues (default 0.2; 1: none returns within `wait` of the ramp)",
    )
    scaling = parser.add_argument_group("scaling")
    scaling.add_argument(
        "--scaling-rate", type=float, default=25.0, help="msg/s per room: an overload"
    )
    shards = parser.add_argument_group("shards")
    shards.add_argument(
        "--shards-rate", type=float, default=25.0, help="msg/s per room (default: an overload)"
    )
    shards.add_argument(
        "--shards-workers", type=int, default=4, help="workers on the two Redis servers"
    )
    rich = parser.add_argument_group("rich")
    rich.add_argument("--rich-rate", type=float, default=2.0, help="msg/s per room: a steady load")
    servers = parser.add_argument_group("servers")
    servers.add_argument("--servers-rates", default="2,15", help="a steady and an overload rate")
    history = parser.add_argument_group("history")
    history.add_argument("--history-sizes", default="1000,1000000", help="messages per room")
    history.add_argument("--history-pages", type=int, default=50, help="requests per kind")

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
        help="before each stack, wait up to this long for the machine to be idle",
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
        "--plot", default=None, metavar="PATH", help="also copy the PNG here (docs/...)"
    )
    parser.add_argument(
        "--py-spy",
        default=None,
        metavar="PATH",
        help="py-spy binary: profile every worker while sending (bench/results/profile-*)",
    )
    parser.add_argument(
        "--py-spy-gil",
        action="store_true",
        help="with --py-spy: sample only the thread holding the GIL (CPU, not waiting)",
    )
    parser.add_argument(
        "--py-spy-phase",
        choices=["sending", "connecting"],
        default="sending",
        help="with --py-spy, in fanout and bigroom: profile while sending (default) or "
        "while the sockets connect and join",
    )
    args = parser.parse_args(argv)
    args.extra_env = env_pairs(parser, args.env)
    args.suite_list = [v.strip() for v in args.suite.split(",") if v.strip()]
    args.rate_list = number_list(args.rates)
    args.bigroom_rate_list = number_list(args.bigroom_rates)
    args.servers_rate_list = number_list(args.servers_rates)
    args.history_size_list = [int(v) for v in number_list(args.history_sizes)]
    args.longpoll_latency_count_list = [int(v) for v in number_list(args.longpoll_latency_polls)]
    args.layer_list = [v.strip() for v in args.layers.split(",") if v.strip()]
    args.app_list = [v.strip() for v in args.apps.split(",") if v.strip()]
    for name in args.suite_list:
        if name not in SUITE:
            parser.error(f"unknown scenario {name!r} (known: {', '.join(SUITE)})")
    for layer in args.layer_list:
        if layer not in LAYERS:
            parser.error(f"unknown layer {layer!r}")
    for app in args.app_list:
        if app not in APPS:
            parser.error(f"unknown app {app!r}")
    return args


def config_of(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "suite": args.suite_list,
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
        "suite_layer": args.suite_layer,
        "bigroom": {"members": args.bigroom_members, "rates": args.bigroom_rate_list},
        "idle": {
            "sockets": args.idle_sockets,
            "rooms": args.idle_rooms,
            "concurrency": args.idle_concurrency,
            "hold": args.idle_hold,
        },
        "longpoll": {"polls": args.longpolls, "concurrency": args.longpoll_concurrency},
        "longpoll_latency": {
            "polls": args.longpoll_latency_count_list,
            "rate": args.longpoll_latency_rate,
            "duration": args.longpoll_latency_duration,
            "wait": args.longpoll_latency_wait,
            "spread": args.longpoll_latency_spread,
        },
        "scaling": {"rate": args.scaling_rate},
        "servers": {"rates": args.servers_rate_list},
        "rich": {"rate": args.rich_rate},
        "shards": {"rate": args.shards_rate, "workers": args.shards_workers},
        "history": {"sizes": args.history_size_list, "pages": args.history_pages},
        "env": args.extra_env,
    }


def draw_plot(document: dict[str, Any], output: Path, copy_to: str | None) -> Path | None:
    try:
        from bench import plot

        png = plot.draw(document, output.with_suffix(".png"))
    except Exception as exc:  # the figures are in the JSON; a plot is a convenience
        print(f"plot not drawn: {type(exc).__name__}: {exc}", flush=True)
        return None
    print(f"drew {png}")
    if copy_to:
        Path(copy_to).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(png, copy_to)
        print(f"copied it to {copy_to}")
    return png


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    run_id = uuid.uuid4().hex[:8]
    started = time.time()
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

    # history makes a database of its own; every other scenario shares this one.
    needs_database = any(name != "history" for name in args.suite_list)
    database_name = None
    if args.database_url:
        database_url = args.database_url
    elif needs_database:
        database_name = f"chatbench_{run_id}"
        database_url = create_database(args.postgres_url, database_name)
    else:
        database_url = ""
    results: dict[str, Any] = {}
    try:
        info["servers"] = server_versions(
            postgres_url=f"{args.postgres_url}/postgres", redis_url=args.redis_url
        )
        if needs_database:
            migrate_quietly(database_url, args.redis_url)
        ctx = Context(args=args, run_id=run_id, database_url=database_url)
        for name in args.suite_list:
            print(f"{name}:", flush=True)
            scenario_started = time.time()
            try:
                results[name] = run_scenario(name, ctx)
            except Exception as exc:  # one broken scenario must not lose the others
                print(f"  {name} FAILED: {type(exc).__name__}: {exc}", flush=True)
                results[name] = {"name": name, "error": f"{type(exc).__name__}: {exc}"[:4000]}
            results[name]["seconds"] = round(time.time() - scenario_started, 1)
    finally:
        if database_name and not args.keep_db:
            drop_database(args.postgres_url, database_name)

    print()
    for name, result in results.items():
        print(format_scenario(name, result))
    found = [problem for name, result in results.items() for problem in problems(result, name)]
    document = {
        "command": "python -m bench.run " + " ".join(argv if argv is not None else sys.argv[1:]),
        "run_id": run_id,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "seconds": round(time.time() - started, 1),
        "machine": info,
        "code": code_version(),
        "machine_busy_before": round(busy, 3),
        "config": config_of(args),
        "scenarios": results,
        "problems": found,
    }
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(started))
    output = Path(args.output) if args.output else RESULTS_DIR / f"bench-{stamp}-{run_id}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {output} ({document['seconds']} s)")
    png = draw_plot(document, output, args.plot)
    for problem in found:
        print(f"problem: {problem}")
    return 0 if not found and (png or not args.plot) else 1


if __name__ == "__main__":
    sys.exit(main())
