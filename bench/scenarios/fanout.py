"""fanout: R rooms x M members, one sender per room, project vs bare, for each rate
and channel layer (the defaults: 10 x 20, 2 and 15 msg/s per room, core and pubsub).

`run_case` (one app's load on a stack of its own) is the machinery the bigroom,
scaling and servers scenarios reuse with other shapes."""

from __future__ import annotations

import asyncio
import os
import subprocess
from dataclasses import dataclass, field
from typing import Any

from bench import load
from bench.common import (
    APPS,
    Context,
    app_env,
    delete_redis_prefix,
    error_row,
    integrity,
    make_stack,
    prefix_for,
    process_cpu,
    project_plan,
    ratio,
    redis_keys_per_server,
    system_cpu,
    wait_until_quiet,
)
from bench.profiling import profile_path, start_profiler, stop_profilers

# For scenarios that overload on purpose: channels-redis's core layer drops (logging at
# INFO) a group message for a process with `capacity` (default 1000) messages already
# waiting in Redis, so an overload would show as loss in the bare app, not capacity.
OVERLOAD_ENV = {"CHANNEL_CAPACITY": "100000"}


@dataclass
class Case:
    app: str  # "project" or "bare"
    layer: str  # "core" or "pubsub"
    rate: float  # messages per second per room
    rooms: int
    members: int
    workers: int
    server: str = "daphne"
    bulk_setup: bool = False  # project users made with bulk_create (big shapes)
    quiet: float = 0.0  # see load.LoadConfig.quiet (big rooms)
    env: dict[str, str] = field(default_factory=dict)  # worker settings (--env wins)
    family: str = ""  # the scenario, when not fanout: named in the progress lines
    reply_every: int = 0  # the message mix (see load.LoadConfig); the rich scenario
    attach_every: int = 0
    uploads: int = 0  # files prepared per room for its sender (project)

    @property
    def name(self) -> str:
        name = f"{self.app}-{self.layer}-{self.rate:g}"
        return f"{self.family}/{name}" if self.family else name


def measure(ctx: Context, case: Case) -> dict[str, Any]:
    args = ctx.args
    tag = ctx.new_tag()
    prefix = prefix_for(tag)
    env = app_env(case.app, case.layer, prefix, {**case.env, **args.extra_env})
    config = load.LoadConfig(
        rooms=case.rooms,
        members=case.members,
        rate=case.rate,
        duration=args.duration,
        drain=args.drain,
        stall=args.stall,
        body_size=args.body_size,
        quiet=case.quiet,
        reply_every=case.reply_every,
        attach_every=case.attach_every,
    )
    if case.app == "project":
        plan = project_plan(
            ctx,
            env=env,
            rooms=case.rooms,
            members=case.members,
            tag=tag,
            bulk=case.bulk_setup,
            uploads=case.uploads,
        )
    else:
        plan = load.bare_plan(case.rooms, case.members)
        for room in plan:  # the same frames as the project's sender (the ids are echoed)
            room.uploads = [f"file-{room.room_id}-{n}" for n in range(case.uploads)]

    busy_before = wait_until_quiet(args.wait_idle)
    marks: dict[str, tuple[float, float, list[float]]] = {}
    keys_at_start: list[int] = []
    try:
        with make_stack(
            ctx, app=case.app, env=env, workers=case.workers, server=case.server
        ) as stack:
            pids = [worker.process.pid for worker in stack.workers]
            profilers: list[subprocess.Popen[bytes]] = []

            def on_phase(phase: str) -> None:
                busy, total = system_cpu()
                marks[phase] = (busy, total, [process_cpu(pid) for pid in pids])
                if phase == "sending":
                    keys_at_start[:] = redis_keys_per_server(ctx.redis_url, prefix)
                if args.py_spy and phase == "sending" and profilers:
                    stop_profilers(profilers)  # the connect phase's
                elif args.py_spy and phase == getattr(args, "py_spy_phase", "sending"):
                    profilers.extend(
                        start_profiler(
                            args.py_spy,
                            pid,
                            profile_path(ctx.run_id, case.name, i),
                            gil=args.py_spy_gil,
                        )
                        for i, pid in enumerate(pids)
                    )
                elif phase == "drained":
                    stop_profilers(profilers)

            result = asyncio.run(
                load.run_load(
                    target=case.app,
                    urls=stack.ws_urls,
                    plan=plan,
                    config=config,
                    on_phase=on_phase,
                )
            )
            stop_profilers(profilers)
    finally:
        delete_redis_prefix(ctx.redis_url, prefix)

    data = result.as_dict()
    # Where the layer's and the site's keys were while every socket had joined (groups,
    # presence): with several servers, each one's share.
    data["redis_keys_per_server"] = keys_at_start
    data.update(app=case.app, layer=case.layer, name=case.name)
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


def run_case(ctx: Context, case: Case) -> dict[str, Any]:
    """One case, measured and printed; a failure becomes an error row (the suite goes on)."""
    shape = {
        "workers": case.workers,
        "asgi_server": case.server,
        "rooms": case.rooms,
        "members": case.members,
    }
    try:
        row = measure(ctx, case)
    except Exception as exc:  # one broken case must not lose the others
        print(f"  {case.name:<32} FAILED: {exc}", flush=True)
        return error_row(
            exc, name=case.name, app=case.app, layer=case.layer, rate=case.rate, **shape
        )
    row.update(shape)
    row["offered"] = round(case.rooms * case.members * case.rate)
    print(
        f"  {case.name:<32} {row['deliveries_per_second']:>8} deliveries/s  "
        f"p50 {row['latency_ms']['p50']:>8} ms  p99 {row['latency_ms']['p99']:>8} ms  "
        f"lost/dup/ooo {integrity(row)}  errors {row['errors']}  "
        f"machine busy {row['machine_busy_before']:.0%} before",
        flush=True,
    )
    return row


def second_over_first(
    rows: dict[tuple[str, Any], dict[str, Any]], apps, first: Any, second: Any
) -> dict[str, float]:
    """Each app's deliveries/s in setup `second` over setup `first` (rows keyed by
    (app, setup)): how far a second setup (more workers, more servers) moves it."""
    ratios = {}
    for app in apps:
        one, two = rows.get((app, first)), rows.get((app, second))
        if one and two and one["deliveries_per_second"]:
            ratios[app] = round(two["deliveries_per_second"] / one["deliveries_per_second"], 2)
    return ratios


def project_over_bare(rows: dict[tuple[str, Any], dict[str, Any]], setups) -> list[str]:
    """Project / bare deliveries/s for each setup, as ratio() prints it."""
    return [
        ratio(
            rows.get(("project", setup), {}).get("deliveries_per_second"),
            rows.get(("bare", setup), {}).get("deliveries_per_second"),
        )
        for setup in setups
    ]


def cpu_per_delivery(row: dict[str, Any] | None) -> float | None:
    return (row or {}).get("server", {}).get("worker_cpu_ms_per_delivery")


def comparison_lines(
    rate: float, layer: str, project: dict[str, Any], bare: dict[str, Any], connect: bool = False
) -> list[str]:
    """The project-vs-bare block of one (rate, layer): value, value, ratio per metric."""
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
            cpu_per_delivery(project),
            cpu_per_delivery(bare),
            ratio(cpu_per_delivery(project), cpu_per_delivery(bare)),
        ),
    ]
    if connect:
        rows.append(
            (
                "connect+join all, s",
                project["connect_seconds"],
                bare["connect_seconds"],
                ratio(project["connect_seconds"], bare["connect_seconds"]),
            )
        )
    rows.append(("lost/dup/out-of-order", integrity(project), integrity(bare), None))
    return [
        f"{rate:>9g} {layer:<6} {label:<24} {project_value!s:>12} "
        f"{bare_value!s:>12} {ratio_text or '':>12}"
        for label, project_value, bare_value, ratio_text in rows
    ]


COMPARISON_HEADER = (
    f"{'rate/room':>9} {'layer':<6} {'metric':<24} {'project':>12} {'bare':>12} "
    f"{'project/bare':>12}"
)


def by_key(cases: list[dict[str, Any]]) -> dict[tuple[str, str, float], dict[str, Any]]:
    return {(r["app"], r["layer"], r["rate"]): r for r in cases if "error" not in r}


def errors_lines(cases: list[dict[str, Any]]) -> list[str]:
    return [f"  {r['name']}: FAILED {r['error'].splitlines()[0]}" for r in cases if "error" in r]


# --- the fanout scenario -------------------------------------------------------------------


def run(ctx: Context) -> dict[str, Any]:
    args = ctx.args
    cases = [
        run_case(
            ctx,
            Case(app, layer, rate, rooms=args.rooms, members=args.members, workers=args.workers),
        )
        for rate in args.rate_list
        for layer in args.layer_list
        for app in args.app_list
    ]
    return {
        "config": {
            "workers": args.workers,
            "rooms": args.rooms,
            "members": args.members,
            "rates": args.rate_list,
            "layers": args.layer_list,
            "apps": args.app_list,
        },
        "cases": cases,
    }


def format_table(result: dict[str, Any]) -> str:
    cases = result["cases"]
    rates, layers = result["config"]["rates"], result["config"]["layers"]
    rows = by_key(cases)
    lines = ["Project vs bare broadcast app", COMPARISON_HEADER, "-" * len(COMPARISON_HEADER)]
    for rate in rates:
        for layer in layers:
            project = rows.get(("project", layer, rate))
            bare = rows.get(("bare", layer, rate))
            if project and bare:
                lines += comparison_lines(rate, layer, project, bare)
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
                    row = rows.get((app, layer, rate))
                    if not row:
                        continue
                    lines.append(
                        f"{rate:>9g} {app:<8} {layer:<6} {row['deliveries_per_second']:>12} "
                        f"{row['latency_ms']['p50']:>9} {row['latency_ms']['p99']:>9} "
                        f"{cpu_per_delivery(row)!s:>10} "
                        f"{integrity(row):>13} {row['errors']:>6}"
                    )
        lines.append("")
    lines += errors_lines(cases)
    return "\n".join(lines)
