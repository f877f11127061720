"""rich: the fan-out load with richer messages in the mix, project vs bare.

The fanout shape (R rooms x M members, one sender per room) at one steady rate on the
suite's layer, sent three ways: plain messages; every third message a reply to the
newest message its sender has seen (`reply_to`, which also moves the parent's reply
count, a second row per reply); and that mix with a picture on every fifth message. Project/bare per mix is the cost against the bare
broadcast; project with a mix / project plain is what the mix itself costs."""

from __future__ import annotations

import math
import shutil
import tempfile
from typing import Any

from bench.common import Context, integrity, ratio
from bench.scenarios.fanout import Case, cpu_per_delivery, errors_lines, run_case

# name -> (reply_every, attach_every): every 3rd message a reply; in "files" also every
# 5th message a 320x240 PNG (sniffed, thumbnailed and stored before the run, attached by
# its upload id: the cost measured is that of sending a message with a file).
MIXES = {
    "plain": (0, 0),
    "replies": (3, 0),
    "files": (3, 5),
}


def run(ctx: Context) -> dict[str, Any]:
    args = ctx.args
    cases = []
    for mix, (reply_every, attach_every) in MIXES.items():
        sends = math.ceil(args.rich_rate * args.duration)
        uploads = sends // attach_every + 1 if attach_every else 0
        for app in args.app_list:
            media = tempfile.mkdtemp(prefix="bench-media-")  # the workers' MEDIA_ROOT
            try:
                row = run_case(
                    ctx,
                    Case(
                        app,
                        args.suite_layer,
                        args.rich_rate,
                        rooms=args.rooms,
                        members=args.members,
                        workers=args.workers,
                        family=f"rich-{mix}",
                        reply_every=reply_every,
                        attach_every=attach_every,
                        uploads=uploads,
                        env={"MEDIA_ROOT": media},
                    ),
                )
            finally:
                shutil.rmtree(media, ignore_errors=True)
            row["mix"] = mix
            cases.append(row)
    return {
        "config": {
            "rate": args.rich_rate,
            "rooms": args.rooms,
            "members": args.members,
            "layer": args.suite_layer,
            "workers": args.workers,
            "mixes": {
                name: {"reply_every": r, "attach_every": a} for name, (r, a) in MIXES.items()
            },
        },
        "cases": cases,
    }


def format_table(result: dict[str, Any]) -> str:
    config = result["config"]
    rows = {(r["app"], r["mix"]): r for r in result["cases"] if "error" not in r}
    header = (
        f"{'mix':<9} {'app':<8} {'deliveries/s':>12} {'p50 ms':>9} {'p99 ms':>9} "
        f"{'CPU ms/dlv':>10} {'replies/attach dlv':>19} {'lost/dup/ooo':>13} "
        f"{'dlv/s vs bare':>13} {'p99 vs bare':>11}"
    )
    lines = [
        f"Richer messages: {config['rooms']} rooms x {config['members']} at "
        f"{config['rate']:g} msg/s per room, {config['workers']} workers, layer {config['layer']}",
        header,
        "-" * len(header),
    ]
    for mix in config["mixes"]:
        bare = rows.get(("bare", mix))
        for app in ("project", "bare"):
            row = rows.get((app, mix))
            if not row:
                continue
            versus = app == "project" and bare
            lines.append(
                f"{mix:<9} {app:<8} {row['deliveries_per_second']:>12} "
                f"{row['latency_ms']['p50']:>9} {row['latency_ms']['p99']:>9} "
                f"{cpu_per_delivery(row)!s:>10} "
                f"{row['delivered_replies']:>9}/{row['delivered_with_attachments']:<9} "
                f"{integrity(row):>13} "
                f"{ratio(row['deliveries_per_second'], bare['deliveries_per_second']) if versus else '':>13} "
                f"{ratio(row['latency_ms']['p99'], bare['latency_ms']['p99']) if versus else '':>11}"
            )
    plain = rows.get(("project", "plain"))
    for mix in config["mixes"]:
        row = rows.get(("project", mix))
        if mix != "plain" and plain and row:
            lines.append(
                f"project {mix} / plain: deliveries/s "
                f"{ratio(row['deliveries_per_second'], plain['deliveries_per_second'])}, "
                f"p99 {ratio(row['latency_ms']['p99'], plain['latency_ms']['p99'])}, "
                f"CPU/dlv {ratio(cpu_per_delivery(row), cpu_per_delivery(plain))}"
            )
    lines += errors_lines(result["cases"])
    lines.append("")
    return "\n".join(lines)
