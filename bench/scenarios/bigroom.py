"""bigroom: one room of 500 members, one sender, project vs bare.

The fan-out machinery with rooms=1: at 2 msg/s (1,000 deliveries/s, a load both apps
carry) and at an overload rate that finds each app's capacity in a large room."""

from __future__ import annotations

from typing import Any

from bench.common import Context
from bench.load import BIG_ROOM_QUIET
from bench.scenarios.fanout import (
    COMPARISON_HEADER,
    OVERLOAD_ENV,
    Case,
    by_key,
    comparison_lines,
    errors_lines,
    run_case,
)


def run(ctx: Context) -> dict[str, Any]:
    args = ctx.args
    members, layer = args.bigroom_members, args.suite_layer
    cases = [
        run_case(
            ctx,
            Case(
                app,
                layer,
                rate,
                rooms=1,
                members=members,
                workers=args.workers,
                bulk_setup=True,
                quiet=BIG_ROOM_QUIET,
                env=OVERLOAD_ENV,
                family="bigroom",
            ),
        )
        for rate in args.bigroom_rate_list
        for app in args.app_list
    ]
    return {
        "config": {
            "workers": args.workers,
            "rooms": 1,
            "members": members,
            "rates": args.bigroom_rate_list,
            "layer": layer,
        },
        "cases": cases,
    }


def format_table(result: dict[str, Any]) -> str:
    config = result["config"]
    rows = by_key(result["cases"])
    lines = [
        f"Big room: 1 room x {config['members']} members, one sender, {config['workers']} workers",
        COMPARISON_HEADER,
        "-" * len(COMPARISON_HEADER),
    ]
    for rate in config["rates"]:
        project = rows.get(("project", config["layer"], rate))
        bare = rows.get(("bare", config["layer"], rate))
        if project and bare:
            lines += comparison_lines(rate, config["layer"], project, bare, connect=True)
            lines.append("")
    lines += errors_lines(result["cases"])
    return "\n".join(lines)
