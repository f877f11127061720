"""idle: 5,000 open sockets, each joined to a room (50 rooms x 100), held idle; the
workers' memory per socket and the time to connect and join, project vs bare.

Memory is the resident size (VmRSS) of all worker processes after every socket has
joined and the join-time chatter has settled, minus the same before, over the
sockets. "Before" is read after a few warm-up sockets per worker have come and gone,
so the one-time costs of a first connection (imports, pools) are not charged to the
sockets. Sockets connect room by room, round-robin over the workers, with at most
`--idle-concurrency` handshakes in flight (a bounded ramp, not a SYN flood); a failed
handshake is retried once, as a client would, and counted."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from bench import load
from bench.common import (
    Context,
    app_env,
    delete_redis_prefix,
    error_row,
    make_stack,
    percentiles_ms,
    prefix_for,
    process_cpu,
    process_rss_kib,
    project_plan,
    ratio,
    wait_until_quiet,
)
from bench.profiling import profile_path, start_profiler, stop_profilers

WARM_UP_PER_WORKER = 2
OPEN_TIMEOUT = 60.0


class Held:
    """The open sockets and what they heard while held."""

    def __init__(self) -> None:
        self.sockets: list[ClientConnection] = []
        self.readers: list[asyncio.Task] = []
        self.frames = 0
        self.closed = 0
        self.closing = False

    async def read(self, socket: ClientConnection) -> None:
        # Read (and drop) what the server sends (presence lists), so nothing piles up.
        try:
            async for _ in socket:
                self.frames += 1
        except ConnectionClosed:
            pass
        if not self.closing:
            self.closed += 1

    async def close(self) -> None:
        self.closing = True
        await asyncio.gather(*(s.close() for s in self.sockets), return_exceptions=True)
        await asyncio.gather(*self.readers, return_exceptions=True)


def rss_kib(pids: list[int]) -> list[int]:
    return [process_rss_kib(pid) for pid in pids]


async def open_all(
    urls: list[str],
    plan: list[load.RoomPlan],
    pids: list[int],
    *,
    concurrency: int,
    hold: float,
    profile: Callable[[], Callable[[], None]] | None = None,
) -> dict[str, Any]:
    """`profile`, if given, starts sampling the workers after the warm-up and returns
    the function that stops it once every socket is open."""
    config = load.LoadConfig(open_timeout=OPEN_TIMEOUT)
    members = [(room.room_id, token) for room in plan for token in room.tokens]

    # Warm-up: a few sockets per worker connect, join and leave.
    for index, (room_id, token) in enumerate(members[: WARM_UP_PER_WORKER * len(urls)]):
        socket = await load._open(urls[index % len(urls)], token, config)
        await load._join(socket, room_id, OPEN_TIMEOUT)
        await socket.close()
    await asyncio.sleep(1.0)
    rss_before = rss_kib(pids)
    cpu_before = sum(process_cpu(pid) for pid in pids)

    held = Held()
    times: list[float] = []
    failures: list[str] = []
    retries: list[str] = []
    gate = asyncio.Semaphore(concurrency)

    async def connect_and_join(url: str, room_id: int, token: str | None) -> ClientConnection:
        socket = await load._open(url, token, config)
        try:
            await load._join(socket, room_id, OPEN_TIMEOUT)
        except BaseException:
            await socket.close()
            raise
        return socket

    async def open_one(index: int, room_id: int, token: str | None) -> None:
        url = urls[index % len(urls)]
        async with gate:
            started = time.perf_counter()
            try:
                socket = await connect_and_join(url, room_id, token)
            except Exception as exc:
                # A client retries a failed handshake (daphne drops one not accepted
                # within 5 s): once, counted, with its time in the socket's figure.
                retries.append(f"{type(exc).__name__}: {exc}"[:300])
                try:
                    socket = await connect_and_join(url, room_id, token)
                except Exception as exc:
                    failures.append(f"{type(exc).__name__}: {exc}"[:300])
                    return
            times.append(time.perf_counter() - started)
        held.sockets.append(socket)
        held.readers.append(asyncio.create_task(held.read(socket)))

    stop_profile = profile() if profile else None
    started = time.perf_counter()
    try:
        await asyncio.gather(*(open_one(i, r, t) for i, (r, t) in enumerate(members)))
        open_seconds = time.perf_counter() - started
        cpu_after = sum(process_cpu(pid) for pid in pids)
        if stop_profile:
            stop_profile()
        await asyncio.sleep(hold)  # idle: only heartbeats and the join chatter's tail
        rss_after = rss_kib(pids)
        still_open = len(held.sockets) - held.closed
    finally:
        await held.close()

    opened = len(times)
    grown_kib = sum(rss_after) - sum(rss_before)
    return {
        "sockets": len(members),
        "opened": opened,
        "failed": len(failures),
        "failure_samples": failures[:5],
        "retried": len(retries),
        "retry_samples": retries[:5],
        "still_open_after_hold": still_open,
        "frames_while_held": held.frames,
        "rss_before_kib": rss_before,
        "rss_after_kib": rss_after,
        "rss_growth_kib": grown_kib,
        "kib_per_socket": round(grown_kib / opened, 2) if opened else None,
        "connect_join_ms": percentiles_ms(times),
        "open_all_seconds": round(open_seconds, 3),
        "sockets_per_second": round(opened / open_seconds, 1) if open_seconds > 0 else None,
        "worker_cpu_ms_per_connect": (
            round(1000 * (cpu_after - cpu_before) / opened, 3) if opened else None
        ),
    }


def measure(ctx: Context, app: str) -> dict[str, Any]:
    args = ctx.args
    rooms = max(1, min(args.idle_rooms, args.idle_sockets))
    members = max(1, args.idle_sockets // rooms)
    tag = ctx.new_tag()
    prefix = prefix_for(tag)
    env = app_env(app, args.suite_layer, prefix, args.extra_env)
    if app == "project":
        plan = project_plan(ctx, env=env, rooms=rooms, members=members, tag=tag, bulk=True)
    else:
        plan = load.bare_plan(rooms, members)
    busy_before = wait_until_quiet(args.wait_idle)
    try:
        with make_stack(ctx, app=app, env=env, workers=args.workers) as stack:
            pids = [worker.process.pid for worker in stack.workers]

            def profile() -> Callable[[], None]:
                profilers = [
                    start_profiler(
                        args.py_spy,
                        pid,
                        profile_path(ctx.run_id, f"idle-{app}", i),
                        gil=args.py_spy_gil,
                    )
                    for i, pid in enumerate(pids)
                ]
                time.sleep(1.0)  # py-spy attaches
                return lambda: stop_profilers(profilers)

            data = asyncio.run(
                open_all(
                    stack.ws_urls,
                    plan,
                    pids,
                    concurrency=args.idle_concurrency,
                    hold=args.idle_hold,
                    profile=profile if args.py_spy else None,
                )
            )
            data["workers_alive"] = all(worker.alive for worker in stack.workers)
    finally:
        delete_redis_prefix(ctx.redis_url, prefix)
    data.update(app=app, name=f"idle/{app}", rooms=rooms, members=members)
    data["machine_busy_before"] = round(busy_before, 3)
    data["problems"] = [
        text
        for text, bad in (
            (f"{data['failed']} sockets failed to connect or join", data["failed"]),
            (
                f"{data['opened'] - data['still_open_after_hold']} sockets closed while held",
                data["opened"] - data["still_open_after_hold"],
            ),
            ("a worker exited", not data["workers_alive"]),
        )
        if bad
    ]
    return data


def run(ctx: Context) -> dict[str, Any]:
    args = ctx.args
    apps: dict[str, Any] = {}
    for app in args.app_list:
        try:
            apps[app] = measure(ctx, app)
        except Exception as exc:  # the other app still runs
            print(f"  {'idle/' + app:<32} FAILED: {exc}", flush=True)
            apps[app] = error_row(exc, name=f"idle/{app}", app=app)
            continue
        row = apps[app]
        print(
            f"  {'idle/' + app:<32} {row['opened']:>6} sockets  {row['kib_per_socket']} KiB/socket  "
            f"connect+join p50 {row['connect_join_ms']['p50']} ms "
            f"p99 {row['connect_join_ms']['p99']} ms  all in {row['open_all_seconds']} s  "
            f"retried {row['retried']}  failed {row['failed']}",
            flush=True,
        )
    project, bare = apps.get("project", {}), apps.get("bare", {})
    return {
        "config": {
            "sockets": args.idle_sockets,
            "rooms": args.idle_rooms,
            "workers": args.workers,
            "concurrency": args.idle_concurrency,
            "hold_seconds": args.idle_hold,
            "layer": args.suite_layer,
        },
        "apps": apps,
        "memory_ratio": (
            round(project["kib_per_socket"] / bare["kib_per_socket"], 2)
            if project.get("kib_per_socket") and bare.get("kib_per_socket")
            else None
        ),
        "target_memory_ratio": 1.2,
    }


def format_table(result: dict[str, Any]) -> str:
    config, apps = result["config"], result["apps"]
    project, bare = apps.get("project") or {}, apps.get("bare") or {}
    header = f"{'metric':<30} {'project':>12} {'bare':>12} {'project/bare':>12}"
    lines = [
        f"Idle sockets: {config['sockets']} over {config['rooms']} rooms, "
        f"{config['workers']} workers, held {config['hold_seconds']:g} s "
        f"(target: memory per socket <= {result['target_memory_ratio']}x bare)",
        header,
        "-" * len(header),
    ]

    def line(label: str, pick, with_ratio: bool = True) -> None:
        p = pick(project) if project and "error" not in project else None
        b = pick(bare) if bare and "error" not in bare else None
        lines.append(f"{label:<30} {p!s:>12} {b!s:>12} {(ratio(p, b) if with_ratio else ''):>12}")

    line("sockets open", lambda r: r["opened"], with_ratio=False)
    line("worker RSS before, MiB", lambda r: round(sum(r["rss_before_kib"]) / 1024, 1))
    line("worker RSS after, MiB", lambda r: round(sum(r["rss_after_kib"]) / 1024, 1))
    line("memory per socket, KiB", lambda r: r["kib_per_socket"])
    line("connect+join p50 ms", lambda r: r["connect_join_ms"]["p50"])
    line("connect+join p99 ms", lambda r: r["connect_join_ms"]["p99"])
    line("open all, s", lambda r: r["open_all_seconds"])
    line("worker CPU ms per connect", lambda r: r["worker_cpu_ms_per_connect"])
    line(
        "retried / failed / closed",
        lambda r: f"{r['retried']}/{r['failed']}/{r['opened'] - r['still_open_after_hold']}",
        with_ratio=False,
    )
    for app, row in apps.items():
        if "error" in row:
            lines.append(f"  idle/{app}: FAILED {row['error'].splitlines()[0]}")
    lines.append("")
    return "\n".join(lines)
