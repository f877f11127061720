"""scaling: two workers against one, under overload.

The fan-out load (10 rooms x 20 members) at a rate neither app carries, with 1 and
then 2 workers, project and bare: deliveries/s is each setup's capacity, and
2-worker / 1-worker is how far adding a process scales it (target 1.6x)."""

from __future__ import annotations

from typing import Any

from bench.common import Context, integrity
from bench.scenarios.fanout import (
    OVERLOAD_ENV,
    Case,
    cpu_per_delivery,
    errors_lines,
    project_over_bare,
    run_case,
    second_over_first,
)

WORKER_COUNTS = (1, 2)
TARGET = 1.6


def run(ctx: Context) -> dict[str, Any]:
    args = ctx.args
    cases = [
        run_case(
            ctx,
            Case(
                app,
                args.suite_layer,
                args.scaling_rate,
                rooms=args.rooms,
                members=args.members,
                workers=workers,
                family=f"scaling-w{workers}",
                env=OVERLOAD_ENV,
            ),
        )
        for workers in WORKER_COUNTS
        for app in args.app_list
    ]
    rows = {(r["app"], r["workers"]): r for r in cases if "error" not in r}
    scaling = second_over_first(rows, args.app_list, 1, 2)
    return {
        "config": {
            "rate": args.scaling_rate,
            "rooms": args.rooms,
            "members": args.members,
            "layer": args.suite_layer,
            "workers": list(WORKER_COUNTS),
        },
        "cases": cases,
        "two_over_one": scaling,
        "target_two_over_one": TARGET,
    }


def format_table(result: dict[str, Any]) -> str:
    config = result["config"]
    rows = {(r["app"], r["workers"]): r for r in result["cases"] if "error" not in r}
    header = (
        f"{'app':<13} {'1 worker dlv/s':>15} {'2 workers dlv/s':>16} {'2w/1w':>7} "
        f"{'CPU ms/dlv 1w':>14} {'CPU ms/dlv 2w':>14} {'lost/dup/ooo 1w, 2w':>24}"
    )
    lines = [
        f"Scaling: {config['rooms']} rooms x {config['members']} at {config['rate']:g} msg/s "
        f"per room (overload), layer {config['layer']}; target 2w/1w >= "
        f"{result['target_two_over_one']}x",
        header,
        "-" * len(header),
    ]
    for app in ("project", "bare"):
        one, two = rows.get((app, 1)), rows.get((app, 2))
        if not one and not two:
            continue
        lines.append(
            f"{app:<13} {(one or {}).get('deliveries_per_second')!s:>15} "
            f"{(two or {}).get('deliveries_per_second')!s:>16} "
            f"{result['two_over_one'].get(app, '-')!s:>7} "
            f"{cpu_per_delivery(one)!s:>14} {cpu_per_delivery(two)!s:>14} "
            f"{(integrity(one) if one else '-') + ', ' + (integrity(two) if two else '-'):>24}"
        )
    project_bare = project_over_bare(rows, WORKER_COUNTS)
    lines.append(f"{'project/bare':<13} {project_bare[0]:>15} {project_bare[1]:>16}")
    lines += errors_lines(result["cases"])
    lines.append("")
    return "\n".join(lines)
