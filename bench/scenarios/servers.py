"""servers: the fan-out load under daphne and under uvicorn, project and bare, at a
steady rate and an overload rate; uvicorn / daphne ratios per app and rate.

Both servers run the same ASGI application, settings, workers and layer
(bench.stack.Stack's `server`)."""

from __future__ import annotations

from typing import Any

from bench.common import Context, integrity, ratio
from bench.scenarios.fanout import (
    OVERLOAD_ENV,
    Case,
    cpu_per_delivery,
    errors_lines,
    run_case,
)

SERVERS = ("daphne", "uvicorn")


def run(ctx: Context) -> dict[str, Any]:
    args = ctx.args
    cases = [
        run_case(
            ctx,
            Case(
                app,
                args.suite_layer,
                rate,
                rooms=args.rooms,
                members=args.members,
                workers=args.workers,
                server=server,
                family=f"servers-{server}",
                env=OVERLOAD_ENV,
            ),
        )
        for rate in args.servers_rate_list
        for server in SERVERS
        for app in args.app_list
    ]
    return {
        "config": {
            "rates": args.servers_rate_list,
            "rooms": args.rooms,
            "members": args.members,
            "workers": args.workers,
            "layer": args.suite_layer,
            "servers": list(SERVERS),
        },
        "cases": cases,
    }


def metrics(row: dict[str, Any] | None) -> list[tuple[str, Any]]:
    row = row or {}
    latency = row.get("latency_ms") or {}
    return [
        ("deliveries/s", row.get("deliveries_per_second")),
        ("latency p50 ms", latency.get("p50")),
        ("latency p99 ms", latency.get("p99")),
        ("worker CPU ms/delivery", cpu_per_delivery(row)),
    ]


def format_table(result: dict[str, Any]) -> str:
    config = result["config"]
    rows = {(r["app"], r["asgi_server"], r["rate"]): r for r in result["cases"] if "error" not in r}
    header = (
        f"{'rate/room':>9} {'app':<8} {'metric':<24} {'daphne':>10} {'uvicorn':>10} "
        f"{'uvicorn/daphne':>15}"
    )
    lines = [
        f"Servers: {config['rooms']} rooms x {config['members']}, {config['workers']} workers, "
        f"layer {config['layer']}",
        header,
        "-" * len(header),
    ]
    for rate in config["rates"]:
        for app in ("project", "bare"):
            daphne, uvicorn = rows.get((app, "daphne", rate)), rows.get((app, "uvicorn", rate))
            if not daphne and not uvicorn:
                continue
            for (label, d), (_, u) in zip(metrics(daphne), metrics(uvicorn), strict=True):
                lines.append(
                    f"{rate:>9g} {app:<8} {label:<24} {d!s:>10} {u!s:>10} {ratio(u, d):>15}"
                )
            lines.append(
                f"{rate:>9g} {app:<8} {'lost/dup/out-of-order':<24} "
                f"{integrity(daphne) if daphne else '-':>10} "
                f"{integrity(uvicorn) if uvicorn else '-':>10}"
            )
        lines.append("")
    lines += errors_lines(result["cases"])
    return "\n".join(lines)
