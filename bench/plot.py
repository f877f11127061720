"""Draw a benchmark run as one PNG: a panel per scenario family, project vs bare bars.

    python -m bench.plot bench/results/bench-<time>-<id>.json [--output docs/performance.png]

bench.run draws it after every run, next to the JSON (same name, .png).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

COLOURS = {"project": "#1f77b4", "bare": "#aaaaaa", "extra": "#ff7f0e"}


def _bars(
    axis,
    groups: list[str],
    series: dict[str, list[float | None]],
    unit: str,
    colours: dict[str, str] | None = None,
    legend: bool = True,
) -> None:
    """Grouped bars: one group per label, one bar per series; missing values left out."""
    count = max(len(series), 1)
    width = 0.8 / count
    for index, (name, values) in enumerate(series.items()):
        xs = [g + (index - (count - 1) / 2) * width for g in range(len(groups))]
        heights = [v if isinstance(v, int | float) and math.isfinite(v) else 0 for v in values]
        colour = (colours or COLOURS).get(name)
        bars = axis.bar(xs, heights, width, label=name, color=colour)
        for bar, value in zip(bars, values, strict=True):
            if isinstance(value, int | float):
                text = f"{value:.3g}" if value < 1000 else f"{value:,.0f}"
                axis.annotate(
                    text,
                    (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center",
                    va="bottom",
                    fontsize=7,
                )
    axis.margins(y=0.18)  # room for the value labels and the legend
    axis.set_xticks(range(len(groups)))
    axis.set_xticklabels(groups, fontsize=8)
    axis.set_ylabel(unit, fontsize=8)
    if legend:
        axis.legend(fontsize=7, loc="upper left")


def _cases(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in result.get("cases", []) if "error" not in r]


def _dps(rows: dict[Any, dict[str, Any]], key: Any) -> float | None:
    return (rows.get(key) or {}).get("deliveries_per_second")


def panel_fanout(axis, result: dict[str, Any]) -> None:
    rows = {(r["app"], r["layer"], r["rate"]): r for r in _cases(result)}
    keys = sorted({(rate, layer) for _, layer, rate in rows})
    groups = [f"{rate:g}/s {layer}" for rate, layer in keys]
    series = {app: [_dps(rows, (app, layer, rate)) for rate, layer in keys] for app in APPS}
    _bars(axis, groups, series, "deliveries/s")
    config = result.get("config", {})
    shape = f"{config.get('rooms')} rooms x {config.get('members')}"
    axis.set_title(f"fanout: {shape}, deliveries/s", fontsize=9)


def panel_bigroom(axis, result: dict[str, Any]) -> None:
    rows = {(r["app"], r["rate"]): r for r in _cases(result)}
    rates = sorted({rate for _, rate in rows})
    series = {app: [_dps(rows, (app, rate)) for rate in rates] for app in APPS}
    _bars(axis, [f"{rate:g} msg/s" for rate in rates], series, "deliveries/s")
    members = result.get("config", {}).get("members")
    axis.set_title(f"bigroom: 1 room x {members}, deliveries/s", fontsize=9)


def panel_idle(axis, result: dict[str, Any]) -> None:
    apps = result.get("apps", {})

    def pick(app: str, *path: str) -> float | None:
        value: Any = apps.get(app) or {}
        for key in path:
            value = (value or {}).get(key) if isinstance(value, dict) else None
        return value

    # Memory on the left axis, connect times on the right: different units and scales.
    groups = ["memory per socket", "connect+join p50", "connect+join p99"]
    memory = {app: [pick(app, "kib_per_socket"), None, None] for app in APPS}
    connect = {
        app: [None, pick(app, "connect_join_ms", "p50"), pick(app, "connect_join_ms", "p99")]
        for app in APPS
    }
    _bars(axis, groups, memory, "KiB per socket")
    _bars(axis.twinx(), groups, connect, "ms", legend=False)
    sockets = result.get("config", {}).get("sockets")
    axis.set_title(
        f"idle: {sockets} sockets, memory ratio {result.get('memory_ratio')}x", fontsize=9
    )


def panel_longpoll(axis, result: dict[str, Any]) -> None:
    def wake(key: str, stat: str) -> float | None:
        return ((result.get(key) or {}).get("wake_ms") or {}).get(stat)

    stats = ("p50", "p99", "max")
    series = {
        "project long poll": [wake("longpoll", s) for s in stats],
        "project WebSocket": [wake("websocket_project", s) for s in stats],
        "bare WebSocket": [wake("websocket_bare", s) for s in stats],
    }
    colours = dict(
        zip(series, (COLOURS["extra"], COLOURS["project"], COLOURS["bare"]), strict=True)
    )
    _bars(axis, ["p50", "p99", "last"], series, "ms from send", colours)
    polls = result.get("config", {}).get("polls")
    axis.set_title(f"longpoll: one message wakes {polls}", fontsize=9)


def panel_scaling(axis, result: dict[str, Any]) -> None:
    rows = {(r["app"], r["workers"]): r for r in _cases(result)}
    counts = result.get("config", {}).get("workers", [1, 2])
    series = {app: [_dps(rows, (app, n)) for n in counts] for app in APPS}
    _bars(axis, [f"{n} worker{'s' if n > 1 else ''}" for n in counts], series, "deliveries/s")
    ratios = ", ".join(f"{app} {value}x" for app, value in result.get("two_over_one", {}).items())
    target = result.get("target_two_over_one")
    axis.set_title(f"scaling, overload: 2w/1w {ratios} (target {target}x)", fontsize=9)


def panel_shards(axis, result: dict[str, Any]) -> None:
    rows = {(r["app"], r["redis_servers"]): r for r in _cases(result)}
    setups = result.get("config", {}).get("setups", [])
    labels = [f"{s['workers']} workers, {s['redis_servers']} Redis" for s in setups]
    series = {app: [_dps(rows, (app, s["redis_servers"])) for s in setups] for app in APPS}
    _bars(axis, labels, series, "deliveries/s")
    gain = ", ".join(
        f"{app} {value}x" for app, value in result.get("two_servers_over_one", {}).items()
    )
    axis.set_title(f"shards: two Redis servers over one: {gain}", fontsize=9)


def panel_servers(axis, result: dict[str, Any]) -> None:
    rows = {(r["app"], r["asgi_server"], r["rate"]): r for r in _cases(result)}
    keys = sorted({(rate, server) for _, server, rate in rows})
    series = {app: [_dps(rows, (app, server, rate)) for rate, server in keys] for app in APPS}
    _bars(axis, [f"{server} {rate:g}/s" for rate, server in keys], series, "deliveries/s")
    axis.set_title("servers: daphne vs uvicorn, deliveries/s", fontsize=9)


def panel_history(axis, result: dict[str, Any]) -> None:
    rooms = result.get("rooms") or {}
    sizes = sorted(rooms, key=int)
    kinds = ("newest", "before", "after")
    series = {
        f"{int(size):,} messages": [
            ((rooms[size].get(kind) or {}).get("ms") or {}).get("p50") for kind in kinds
        ]
        for size in sizes
    }
    _bars(axis, list(kinds), series, "p50 ms per page")
    axis.set_title("history: a page over HTTP (no bare equivalent)", fontsize=9)


APPS = ("project", "bare")
PANELS = {
    "fanout": panel_fanout,
    "bigroom": panel_bigroom,
    "idle": panel_idle,
    "longpoll": panel_longpoll,
    "scaling": panel_scaling,
    "servers": panel_servers,
    "shards": panel_shards,
    "history": panel_history,
}


def scenarios_of(document: dict[str, Any]) -> dict[str, Any]:
    scenarios = document.get("scenarios", {})
    if isinstance(scenarios, list):  # a run from before the suite: fan-out rows only
        config = document.get("config", {})
        return {"fanout": {"cases": scenarios, "config": config}}
    return scenarios


def draw(document: dict[str, Any], output: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    scenarios = scenarios_of(document)
    names = [name for name in scenarios if name in PANELS] or ["(none)"]
    columns = min(3, len(names))
    rows = math.ceil(len(names) / columns)
    figure, axes = pyplot.subplots(
        rows, columns, figsize=(5.2 * columns, 3.8 * rows), squeeze=False
    )
    for axis, name in zip(axes.flat, names, strict=False):
        result = scenarios.get(name)
        try:
            if not isinstance(result, dict) or "error" in result:
                raise ValueError((result or {}).get("error", "no result"))
            PANELS[name](axis, result)
        except Exception as exc:  # a panel that cannot be drawn says so, the others draw
            axis.clear()
            axis.set_axis_off()
            axis.text(0.5, 0.5, f"{name}: {str(exc)[:120]}", ha="center", wrap=True, fontsize=8)
    for axis in list(axes.flat)[len(names) :]:
        axis.set_axis_off()
    code = document.get("code", {})
    host = document.get("machine", {})
    figure.suptitle(
        f"bench.run {document.get('started', '')}, commit {(code.get('commit') or '?')[:8]}"
        f"{' + changes' if code.get('dirty') else ''}, {host.get('nproc')} CPUs, "
        f"machine {document.get('machine_busy_before', 0):.0%} busy before",
        fontsize=9,
    )
    figure.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(output, dpi=110)
    pyplot.close(figure)
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.plot", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("results", help="a JSON file bench.run wrote")
    parser.add_argument("--output", default=None, help="PNG path (default: the JSON's, .png)")
    args = parser.parse_args(argv)
    source = Path(args.results)
    output = Path(args.output) if args.output else source.with_suffix(".png")
    draw(json.loads(source.read_text()), output)
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
