"""Offered against delivered load: does a worker keep its capacity past it?

    python -m bench.run --suite fanout --workers 1 --layers core --rates 5,10,15,20,25,35 \\
        --output bench/results/curve.json
    python -m bench.curve bench/results/curve.json --output docs/offered-vs-delivered.png

One line per app (project, bare) through the fan-out cases of one run: offered
deliveries/s (rate x rooms x members) on x, delivered deliveries/s on y, the diagonal
for "carries everything". A system that collapses past its capacity bends down; one
with back-pressure stays flat. Also prints the table, and each app's delivered at the
highest offered load as a share of the best it delivered (the issue's "no collapse":
at least 90 %).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def points(result: dict[str, Any]) -> dict[str, list[tuple[float, float]]]:
    """{app: [(offered, delivered)], sorted by offered} from a run's fan-out cases."""
    lines: dict[str, list[tuple[float, float]]] = {}
    for case in result["scenarios"]["fanout"]["cases"]:
        if "error" in case:
            continue
        lines.setdefault(case["app"], []).append(
            (float(case["offered"]), float(case["deliveries_per_second"]))
        )
    return {app: sorted(pts) for app, pts in lines.items()}


def held_share(pts: list[tuple[float, float]]) -> float:
    """Delivered at the highest offered load over the best delivered at any load."""
    best = max(d for _, d in pts)
    return pts[-1][1] / best if best else 0.0


def draw(lines: dict[str, list[tuple[float, float]]], output: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6.4, 4.2))
    top = max(o for pts in lines.values() for o, _ in pts)
    axis.plot([0, top], [0, top], color="#dddddd", linestyle="--", label="offered = delivered")
    colours = {"project": "#1f77b4", "bare": "#888888"}
    for app, pts in lines.items():
        axis.plot(
            [o for o, _ in pts],
            [d for _, d in pts],
            marker="o",
            color=colours.get(app),
            label=f"{app} (keeps {held_share(pts):.0%} at the top load)",
        )
    axis.set_xlabel("offered deliveries/s")
    axis.set_ylabel("delivered deliveries/s")
    axis.set_title(title, fontsize=9)
    axis.legend(fontsize=8, loc="upper left")
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(output, dpi=110)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("result", type=Path, help="a bench.run JSON with fan-out cases")
    parser.add_argument("--output", type=Path, help="PNG (default: beside the JSON)")
    args = parser.parse_args(argv)
    result = json.loads(args.result.read_text())
    lines = points(result)
    if not lines:
        print("no fan-out cases in", args.result, file=sys.stderr)
        return 1
    config = result["scenarios"]["fanout"]["config"]
    print(f"{'app':8} {'offered':>8} {'delivered':>10} {'share':>6}")
    for app, pts in lines.items():
        for offered, delivered in pts:
            print(f"{app:8} {offered:8.0f} {delivered:10.1f} {delivered / offered:6.0%}")
        print(f"{app:8} keeps {held_share(pts):.0%} of its best at the highest offered load")
    title = (
        f"{config['rooms']} rooms x {config['members']}, {config['workers']} worker(s), "
        f"layer {','.join(config['layers'])}, commit {result['code']['commit'][:7]}"
    )
    output = args.output or args.result.with_name(args.result.stem + "-curve.png")
    draw(lines, output, title)
    print("drew", output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
