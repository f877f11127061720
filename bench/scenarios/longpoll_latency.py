"""longpoll_latency: does a worker's socket traffic wait behind its long polls?

One project worker (daphne) on the suite's layer (default core, channels-redis's
`RedisChannelLayer`). One socket in a room of its own sends at a fixed rate and times
each message's echo (send to its own receipt, bench.load); beside it 0, 1, 100 and 500
(`--longpoll-latency-polls`) HTTP long polls wait on the same worker:
`GET /api/rooms/{id}/messages?after=<newest seq>&wait=<S>`, each with its own user's
Bearer token, on another room where nothing is posted, so they genuinely wait and
are never woken. Each poll is re-issued as soon as it returns (its timeout), so the
count stays constant; the first request of each poll waits a random part of S (seeded,
from `--longpoll-latency-spread` x S to S) so that, as with independent clients, the
timeouts and re-issues are spread out and not all at once (about N / S a second).
With a spread of 1 every poll first waits the whole S, so none returns during a
measurement shorter than S: waiting alone, without the turnover.

The polls run in a child process, so their client work never delays the timing of
the echoes. The counts are measured one after another on the same worker, after a
warm-up; before each, the room's group in Redis (core layer) must hold exactly that
many polls, and it is sampled while the socket sends. A fresh echo room (and user)
per count: the project deduplicates by client_id, and bench.load's ids restart at 0.

Figures per count: echo p50, p99 and max, and p99 as a ratio to the 0-poll p99 (the
target is within 1.2x); the polls waiting (min/max of the samples) and their answers
(timeouts, woken, errors: a woken poll or an error is a problem); the worker's CPU.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import random
import time
from dataclasses import asdict, dataclass
from typing import Any

from bench import load, rawhttp
from bench.common import (
    Context,
    app_env,
    delete_redis_prefix,
    error_row,
    integrity,
    make_stack,
    prefix_for,
    process_cpu,
    project_plan,
    wait_until_quiet,
)
from bench.scenarios.longpoll import waiting_polls

TARGET = 1.2  # the p99 with polls waiting, at most this times the p99 with none
SETTLE_SECONDS = 1.0  # after the group holds every poll: let their first reads finish
READY_TIMEOUT = 90.0  # seconds for the group to reach a count
SAMPLE_EVERY = 0.25  # seconds between samples of the group while the socket sends


def poll_path(room_id: int, after: int, wait: float) -> str:
    return f"/api/rooms/{room_id}/messages?after={after}&wait={wait:g}"


async def newest_seq(url: str, room_id: int, token: str) -> int:
    """The room's newest seq (0 if it has no message): where the polls wait from."""
    status, page = await rawhttp.request(url, "GET", f"/api/rooms/{room_id}/messages", token)
    if status != 200 or not isinstance(page, dict):
        raise RuntimeError(f"history of room {room_id} answered {status}: {str(page)[:200]}")
    return max((m.get("seq", 0) for m in page.get("messages", [])), default=0)


# --- the polls: a child process, commanded over a pipe -----------------------------------


@dataclass
class PollCounts:
    issued: int = 0
    timeouts: int = 0  # 200 with no message: the normal answer here
    woken: int = 0  # 200 with messages: nothing is posted to this room, so a problem
    errors: int = 0  # any other status, or a failed connection

    def minus(self, other: PollCounts) -> dict[str, int]:
        return {key: value - getattr(other, key) for key, value in asdict(self).items()}


@dataclass
class PollSetup:
    url: str
    room_id: int
    after: int
    tokens: list[str]
    wait: float
    spread: float  # each poll's first wait is drawn from (spread x wait, wait]
    concurrency: int
    redis_url: str
    prefix: str
    layer: str


async def poll_forever(
    index: int, setup: PollSetup, counts: PollCounts, gate: asyncio.Semaphore, samples: list
) -> None:
    token = setup.tokens[index]
    # The first wait is spread over (spread x S, S], so re-issues are spread out too.
    wait = round(setup.wait * random.Random(index).uniform(setup.spread, 1.0), 1)
    while True:
        call = rawhttp.Request(setup.url, "GET", poll_path(setup.room_id, setup.after, wait), token)
        try:
            async with gate:  # a bounded ramp; the waiting itself is unbounded
                await call.send()
            counts.issued += 1
            status, page = await call.answer()
        except OSError as exc:
            counts.errors += 1
            if len(samples) < 5:
                samples.append(f"poll {index}: {type(exc).__name__}: {exc}"[:200])
            await asyncio.sleep(0.5)
            continue
        wait = setup.wait
        if status == 200 and isinstance(page, dict) and page.get("messages") == []:
            counts.timeouts += 1
        else:
            if status == 200:
                counts.woken += 1
            else:
                counts.errors += 1
            if len(samples) < 5:
                samples.append(f"poll {index}: {status} {str(page)[:200]}")


async def wait_for_count(setup: PollSetup, target: int) -> tuple[float, int]:
    """Seconds until the worker reports exactly `target` polls waiting (GET /healthz),
    and the last count seen."""
    started = time.perf_counter()
    seen = -1
    while time.perf_counter() - started < READY_TIMEOUT:
        seen = await waiting_polls([setup.url])
        if seen == target:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(SETTLE_SECONDS)
    return time.perf_counter() - started, seen


async def sample_group(setup: PollSetup, into: list[int]) -> None:
    while True:
        into.append(await waiting_polls([setup.url]))
        await asyncio.sleep(SAMPLE_EVERY)


async def serve_commands(connection, setup: PollSetup) -> None:
    """Commands: ("target", n) -> {"seconds", "waiting"}; ("start", None) starts a
    measurement; ("stop", None) -> its answers and samples; ("quit", None) -> totals."""
    loop = asyncio.get_running_loop()
    commands: asyncio.Queue = asyncio.Queue()
    loop.add_reader(connection.fileno(), lambda: commands.put_nowait(connection.recv()))
    counts, samples = PollCounts(), []
    gate = asyncio.Semaphore(setup.concurrency)
    tasks: list[asyncio.Task] = []
    sampler: asyncio.Task | None = None
    waiting: list[int] = []
    at_start = PollCounts()
    try:
        while True:
            command, value = await commands.get()
            if command == "target":
                while len(tasks) > value:
                    tasks.pop().cancel()
                while len(tasks) < value:
                    tasks.append(
                        asyncio.create_task(poll_forever(len(tasks), setup, counts, gate, samples))
                    )
                seconds, seen = await wait_for_count(setup, value)
                connection.send({"seconds": round(seconds, 2), "waiting": seen})
            elif command == "start":
                at_start, waiting = PollCounts(**asdict(counts)), []
                if setup.layer == "core":
                    sampler = asyncio.create_task(sample_group(setup, waiting))
            elif command == "stop":
                if sampler is not None:
                    sampler.cancel()
                    await asyncio.gather(sampler, return_exceptions=True)
                    sampler = None
                connection.send(
                    {
                        "answers": counts.minus(at_start),
                        "waiting": (
                            {
                                "min": min(waiting),
                                "max": max(waiting),
                                "mean": round(sum(waiting) / len(waiting), 1),
                                "samples": len(waiting),
                            }
                            if waiting
                            else None
                        ),
                    }
                )
            elif command == "quit":
                break
    finally:
        loop.remove_reader(connection.fileno())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    connection.send({"answers": asdict(counts), "samples": samples})


def poller_main(connection, setup: PollSetup) -> None:
    asyncio.run(serve_commands(connection, setup))


class Pollers:
    """The child process that keeps N polls waiting; the parent's side of the pipe."""

    def __init__(self, setup: PollSetup) -> None:
        context = multiprocessing.get_context("spawn")
        self.connection, child_end = context.Pipe()
        self.process = context.Process(
            target=poller_main, args=(child_end, setup), name="bench-pollers", daemon=True
        )
        self.process.start()
        child_end.close()

    def send(self, command: str, value: Any = None) -> None:
        self.connection.send((command, value))

    def answer(self, timeout: float) -> dict[str, Any]:
        if not self.connection.poll(timeout):
            raise RuntimeError(f"the poll process did not answer within {timeout:g} s")
        return self.connection.recv()

    def close(self) -> dict[str, Any] | None:
        totals = None
        try:
            if self.process.is_alive():
                self.send("quit")
                totals = self.answer(30)
        except (OSError, EOFError, RuntimeError):
            pass
        self.process.join(10)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5)
        self.connection.close()
        return totals


# --- the measurement ----------------------------------------------------------------------


def echo(
    ctx: Context, *, url: str, room: load.RoomPlan, pid: int, pollers: Pollers | None
) -> dict[str, Any]:
    """One socket sends at the rate for the duration; every echo timed (bench.load)."""
    args = ctx.args
    config = load.LoadConfig(
        rooms=1,
        members=1,
        rate=args.longpoll_latency_rate,
        duration=args.longpoll_latency_duration,
        drain=args.drain,
        stall=args.stall,
        body_size=args.body_size,
        connect_concurrency=1,
    )
    marks: dict[str, tuple[float, float]] = {}

    def on_phase(phase: str) -> None:
        marks[phase] = (time.perf_counter(), process_cpu(pid))
        if pollers is not None and phase in ("sending", "drained"):
            pollers.send("start" if phase == "sending" else "stop")

    polls = None
    try:
        result = asyncio.run(
            load.run_load(
                target="project", urls=[url], plan=[room], config=config, on_phase=on_phase
            )
        )
    finally:
        if pollers is not None and "drained" in marks:  # read the answer to "stop"
            polls = pollers.answer(30)
    data = result.as_dict()
    if "sending" in marks and "drained" in marks:
        wall = marks["drained"][0] - marks["sending"][0]
        cpu = marks["drained"][1] - marks["sending"][1]
        data["worker_cpu_share"] = round(cpu / wall, 3) if wall > 0 else None
    if polls is not None:
        data["polls"] = polls
    return data


def measure_count(
    ctx: Context, *, count: int, url: str, room: load.RoomPlan, pid: int, pollers: Pollers
) -> dict[str, Any]:
    name = f"longpoll_latency/{count}-polls"
    # Quiet first (--wait-idle), then the polls: a wait between the two could outlast
    # their first waits and measure them all coming back at once.
    busy = wait_until_quiet(ctx.args.wait_idle)
    pollers.send("target", count)
    ready = pollers.answer(READY_TIMEOUT + 30)
    row = echo(ctx, url=url, room=room, pid=pid, pollers=pollers)
    polls = row.pop("polls", {})
    row.update(
        name=name,
        poll_count=count,
        ready_seconds=ready["seconds"],
        waiting_at_start=ready["waiting"],
        waiting=polls.get("waiting"),
        poll_answers=polls.get("answers"),
        machine_busy_before=round(busy, 3),
    )
    answers = row["poll_answers"] or {}
    waiting = row["waiting"]
    row["problems"] = [
        text
        for text, bad in (
            (f"{answers.get('woken')} polls woken (nothing is posted)", answers.get("woken")),
            (f"{answers.get('errors')} poll errors", answers.get("errors")),
            (
                f"the group held {ready['waiting']} polls, not {count}, before sending",
                ready["waiting"] not in (count, -1),
            ),
            (
                f"the group fell to {waiting and waiting['min']} of {count} polls while sending",
                waiting is not None and waiting["min"] < count - max(1, math.ceil(count / 20)),
            ),
            (f"{row['delivered']} of {row['sent']} echoes", row["delivered"] != row["sent"]),
        )
        if bad
    ]
    return row


def finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def print_row(row: dict[str, Any]) -> None:
    if "error" in row:
        print(f"  {row['name']:<32} FAILED: {row['error']}", flush=True)
        return
    latency = row["latency_ms"]
    waiting = row["waiting"] or {}
    print(
        f"  {row['name']:<32} echo p50 {latency['p50']:>8} ms  p99 {latency['p99']:>8} ms  "
        f"max {latency['max']:>8} ms  polls waiting {waiting.get('min', '-')}-"
        f"{waiting.get('max', '-')}  lost/dup/ooo {integrity(row)}  "
        f"machine busy {row['machine_busy_before']:.0%} before",
        flush=True,
    )


def run(ctx: Context) -> dict[str, Any]:
    args = ctx.args
    counts = args.longpoll_latency_count_list
    layer = args.suite_layer
    result: dict[str, Any] = {
        "config": {
            "poll_counts": counts,
            "workers": 1,
            "layer": layer,
            "rate": args.longpoll_latency_rate,
            "duration": args.longpoll_latency_duration,
            "wait": args.longpoll_latency_wait,
            "spread": args.longpoll_latency_spread,
            "concurrency": args.longpoll_concurrency,
        },
        "target_p99_ratio": TARGET,
    }
    tag = ctx.new_tag()
    prefix = prefix_for(tag)
    env = app_env("project", layer, prefix, args.extra_env)
    cases: list[dict[str, Any]] = []
    pollers: Pollers | None = None
    try:
        # A fresh room and user per echo measurement (the warm-up's first); the polls'
        # room holds one user per poll.
        echo_rooms = project_plan(ctx, env=env, rooms=len(counts) + 1, members=1, tag=f"{tag}e")
        poll_room = project_plan(
            ctx, env=env, rooms=1, members=max([*counts, 1]), tag=f"{tag}p", bulk=True
        )[0]
        with make_stack(ctx, app="project", env=env, workers=1) as stack:
            url, ws_url = stack.urls[0], stack.ws_urls[0]
            pid = stack.workers[0].process.pid
            after = asyncio.run(newest_seq(url, poll_room.room_id, poll_room.tokens[0]))
            pollers = Pollers(
                PollSetup(
                    url=url,
                    room_id=poll_room.room_id,
                    after=after,
                    tokens=list(poll_room.tokens),
                    wait=args.longpoll_latency_wait,
                    spread=args.longpoll_latency_spread,
                    concurrency=args.longpoll_concurrency,
                    redis_url=ctx.redis_url,
                    prefix=prefix,
                    layer=layer,
                )
            )
            result["poll_room"] = {"id": poll_room.room_id, "after": after}
            result["warmup"] = echo(ctx, url=ws_url, room=echo_rooms[0], pid=pid, pollers=None)
            result["warmup"]["name"] = "longpoll_latency/warm-up"
            for count, room in zip(counts, echo_rooms[1:], strict=True):
                try:
                    row = measure_count(
                        ctx, count=count, url=ws_url, room=room, pid=pid, pollers=pollers
                    )
                except Exception as exc:  # one broken count must not lose the others
                    row = error_row(exc, name=f"longpoll_latency/{count}-polls", poll_count=count)
                cases.append(row)
                print_row(row)
            result["poll_totals"] = pollers.close()
            pollers = None
    except Exception as exc:
        print(f"  {'longpoll_latency':<32} FAILED: {exc}", flush=True)
        result["error"] = f"{type(exc).__name__}: {exc}"[:4000]
    finally:
        if pollers is not None:
            pollers.close()
        delete_redis_prefix(ctx.redis_url, prefix)
    result["cases"] = cases
    baseline = next(
        (r["latency_ms"]["p99"] for r in cases if r["poll_count"] == 0 and "error" not in r),
        None,
    )
    result["baseline_p99_ms"] = baseline
    for row in cases:
        if "error" in row:
            continue
        p99 = row["latency_ms"]["p99"]  # NaN when no echo came back at all
        row["p99_ratio"] = (
            round(p99 / baseline, 2) if finite(baseline) and finite(p99) and baseline else None
        )
        row["within_target"] = row["p99_ratio"] is not None and row["p99_ratio"] <= TARGET
    return result


def ratio_text(value: float | None) -> str:
    return f"{value:.2f}x" if value is not None else "-"


def format_table(result: dict[str, Any]) -> str:
    config = result["config"]
    lines = [
        f"Long polls beside a socket: 1 worker ({config['layer']} layer), one socket's "
        f"send-to-echo at {config['rate']:g} msg/s for {config['duration']:g} s per count, "
        f"polls wait={config['wait']:g} s on another room"
    ]
    if result.get("error"):
        lines.append(f"  FAILED: {result['error'].splitlines()[0]}")
    header = (
        f"{'polls':>6} {'p50 ms':>9} {'p99 ms':>9} {'max ms':>9} {'p99/0 polls':>12} "
        f"{'<=' + format(result['target_p99_ratio'], 'g') + 'x':>6} {'echoes':>9} "
        f"{'lost/dup/ooo':>13} {'waiting':>9} {'timeouts/woken/err':>19} {'worker CPU':>10}"
    )
    lines += [header, "-" * len(header)]
    for row in result.get("cases", []):
        if "error" in row:
            lines.append(f"{row['poll_count']:>6} FAILED: {row['error'].splitlines()[0]}")
            continue
        latency = row["latency_ms"]
        waiting = row["waiting"]
        answers = row["poll_answers"] or {}
        share = row.get("worker_cpu_share")
        lines.append(
            f"{row['poll_count']:>6} {latency['p50']:>9} {latency['p99']:>9} "
            f"{latency['max']:>9} {ratio_text(row.get('p99_ratio')):>12} "
            f"{'yes' if row['within_target'] else 'NO':>6} "
            f"{str(row['delivered']) + '/' + str(row['sent']):>9} {integrity(row):>13} "
            f"{(str(waiting['min']) + '-' + str(waiting['max'])) if waiting else '-':>9} "
            f"{'/'.join(str(answers.get(k, '-')) for k in ('timeouts', 'woken', 'errors')):>19} "
            f"{(format(share, '.0%') if share is not None else '-'):>10}"
        )
    lines.append("")
    return "\n".join(lines)
