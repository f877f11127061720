"""longpoll: 1,000 waiting HTTP long polls woken by one posted message, beside the same
message reaching 1,000 WebSocket sockets (project, and the bare app, which has no
long poll).

Each poll is `GET /api/rooms/{id}/messages?after=N&wait=25` with its own user's
Bearer token, on its own connection, round-robin over the workers. Once every poll is
subscribed (the room's group in Redis holds them all), one `POST
/api/rooms/{id}/messages` is sent; each poll's wake latency is from that POST to its
complete answer, which must hold the posted message, once. The WebSocket side is one
message sent over a socket to a room of as many members (bench.load, one message),
from the send to each socket's receipt."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench import load, rawhttp
from bench.common import (
    Context,
    app_env,
    delete_redis_prefix,
    error_row,
    make_stack,
    percentiles_ms,
    prefix_for,
    project_plan,
    ratio,
)
from bench.profiling import profile_path, start_profiler, stop_profilers

WAIT = 25  # seconds each poll may wait (the API allows up to 30)
WS_KEYS = ("sockets", "delivered", "expected", "lost", "duplicated", "out_of_order", "errors")


async def waiting_polls(urls: list[str]) -> int:
    """Long polls waiting (subscribed and read) on these workers, from each one's
    GET /healthz. The polls of a worker share one channel-layer subscription
    (rooms.realtime.hub), so the room's group in Redis no longer counts them."""
    answers = await asyncio.gather(*(rawhttp.request(url, "GET", "/healthz", None) for url in urls))
    return sum(page.get("long_polls", 0) for _, page in answers if isinstance(page, dict))


async def wake_polls(
    urls: list[str],
    room_id: int,
    tokens: list[str],
    *,
    concurrency: int,
    ready: Any,
) -> dict[str, Any]:
    after = 0  # a fresh room
    path = f"/api/rooms/{room_id}/messages?after={after}&wait={WAIT}"
    polls = [
        rawhttp.Request(urls[i % len(urls)], "GET", path, token) for i, token in enumerate(tokens)
    ]
    answered_at: dict[int, float] = {}
    answers: dict[int, tuple[int, Any]] = {}
    gate = asyncio.Semaphore(concurrency)
    posted_at: float | None = None

    async def one(index: int, poll: rawhttp.Request) -> None:
        async with gate:  # bounded connection ramp; the waiting itself is unbounded
            await poll.send()
        answers[index] = await poll.answer()
        answered_at[index] = time.perf_counter()

    tasks = [asyncio.create_task(one(i, poll)) for i, poll in enumerate(polls)]
    started = time.perf_counter()
    try:
        waiting_seconds = await ready(len(polls), tasks)
        early = len(answers)  # answered before anything was posted: must be 0
        posted_at = time.perf_counter()
        post_status, message = await rawhttp.request(
            urls[0],
            "POST",
            f"/api/rooms/{room_id}/messages",
            tokens[0],
            {"body": "wake up", "client_id": "bench-wake-1"},
        )
        post_seconds = time.perf_counter() - posted_at
        await asyncio.wait(tasks, timeout=WAIT + 15)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    seq = message.get("seq") if isinstance(message, dict) else None
    with_message, wrong = 0, []
    for index, (status, page) in sorted(answers.items()):
        seqs = [m.get("seq") for m in page.get("messages", [])] if isinstance(page, dict) else []
        if status == 200 and seq is not None and seqs == [seq]:
            with_message += 1
        elif len(wrong) < 5:
            wrong.append(f"poll {index}: {status} {str(page)[:200]}")
    failed = [
        f"{type(t.exception()).__name__}: {t.exception()}"[:200]
        for t in tasks
        if not t.cancelled() and t.exception() is not None
    ]
    wake = [answered_at[i] - posted_at for i in answered_at if answered_at[i] >= posted_at]
    result = {
        "polls": len(polls),
        "all_waiting_seconds": round(waiting_seconds, 3),
        "answered_before_post": early,
        "post_status": post_status,
        "post_ms": round(post_seconds * 1000, 2),
        "answered": len(answers),
        "with_message_once": with_message,
        "wrong_samples": wrong,
        "failed_samples": failed[:5],
        "wake_ms": percentiles_ms(wake),
        "seconds": round(time.perf_counter() - started, 3),
    }
    result["problems"] = [
        text
        for text, bad in (
            (f"POST answered {post_status}", post_status != 201),
            (f"{early} polls answered before the POST", early),
            (
                f"{len(polls) - with_message} of {len(polls)} polls not answered with the "
                "message exactly once",
                with_message != len(polls),
            ),
        )
        if bad
    ]
    return result


async def wait_until_waiting(urls: list[str], polls: int, tasks) -> float:
    """Seconds until the workers report every poll waiting (or a poll already answered)."""
    started = time.perf_counter()
    deadline = started + 60
    while time.perf_counter() < deadline and not any(t.done() for t in tasks):
        if await waiting_polls(urls) >= polls:
            break
        await asyncio.sleep(0.1)
    return time.perf_counter() - started


def websocket_wake(
    ctx: Context, *, app: str, urls: list[str], plan: list[load.RoomPlan]
) -> dict[str, Any]:
    """One message to a room of len(tokens) sockets: send to each receipt."""
    members = len(plan[0].tokens)
    config = load.LoadConfig(
        rooms=1,
        members=members,
        rate=1.0,
        duration=1.0,  # one message
        drain=ctx.args.drain,
        stall=ctx.args.stall,
        body_size=ctx.args.body_size,
        connect_concurrency=50,
        quiet=load.BIG_ROOM_QUIET,
    )
    result = asyncio.run(load.run_load(target=app, urls=urls, plan=plan, config=config))
    data = {key: getattr(result, key) for key in WS_KEYS}
    data["wake_ms"] = {
        "p50": result.latency_ms["p50"],
        "p99": result.latency_ms["p99"],
        "max": result.latency_ms["max"],
    }
    data["connect_seconds"] = result.connect_seconds
    return data


def run_project(ctx: Context) -> dict[str, Any]:
    args = ctx.args
    tag = ctx.new_tag()
    prefix = prefix_for(tag)
    env = app_env("project", args.suite_layer, prefix, args.extra_env)
    plan = project_plan(ctx, env=env, rooms=1, members=args.longpolls, tag=tag, bulk=True)
    room = plan[0]
    profilers: list = []
    try:
        with make_stack(ctx, app="project", env=env, workers=args.workers) as stack:

            async def ready_then_profile(polls, tasks):
                waited = await wait_until_waiting(stack.urls, polls, tasks)
                if args.py_spy:  # the POST and the wake, every worker
                    profilers.extend(
                        start_profiler(
                            args.py_spy,
                            w.process.pid,
                            profile_path(ctx.run_id, f"longpoll-wake-{tag}", i),
                            gil=args.py_spy_gil,
                        )
                        for i, w in enumerate(stack.workers)
                    )
                    await asyncio.sleep(1.0)  # py-spy attaches
                return waited

            polls = asyncio.run(
                wake_polls(
                    stack.urls,
                    room.room_id,
                    room.tokens,
                    concurrency=args.longpoll_concurrency,
                    ready=ready_then_profile,
                )
            )
            stop_profilers(profilers)
            sockets = websocket_wake(ctx, app="project", urls=stack.ws_urls, plan=[room])
    finally:
        delete_redis_prefix(ctx.redis_url, prefix)
    return {"longpoll": polls, "websocket_project": sockets}


def run_bare(ctx: Context) -> dict[str, Any]:
    args = ctx.args
    prefix = prefix_for(ctx.new_tag())
    env = app_env("bare", args.suite_layer, prefix, args.extra_env)
    try:
        with make_stack(ctx, app="bare", env=env, workers=args.workers) as stack:
            plan = load.bare_plan(1, args.longpolls)
            return websocket_wake(ctx, app="bare", urls=stack.ws_urls, plan=plan)
    finally:
        delete_redis_prefix(ctx.redis_url, prefix)


def run(ctx: Context) -> dict[str, Any]:
    args = ctx.args
    result: dict[str, Any] = {
        "config": {
            "polls": args.longpolls,
            "wait": WAIT,
            "workers": args.workers,
            "layer": args.suite_layer,
            "concurrency": args.longpoll_concurrency,
        }
    }
    try:
        result.update(run_project(ctx))
    except Exception as exc:
        print(f"  {'longpoll/project':<32} FAILED: {exc}", flush=True)
        result["longpoll"] = error_row(exc, name="longpoll/project")
    if "bare" in args.app_list:
        try:
            result["websocket_bare"] = run_bare(ctx)
        except Exception as exc:
            print(f"  {'longpoll/bare':<32} FAILED: {exc}", flush=True)
            result["websocket_bare"] = error_row(exc, name="longpoll/bare")
    wakes = {
        key: (result.get(key) or {}).get("wake_ms") or {}
        for key in ("longpoll", "websocket_project", "websocket_bare")
    }
    result["ratios"] = {
        stat: {
            "longpoll_vs_websocket_project": ratio(
                wakes["longpoll"].get(stat), wakes["websocket_project"].get(stat)
            ),
            "websocket_project_vs_bare": ratio(
                wakes["websocket_project"].get(stat), wakes["websocket_bare"].get(stat)
            ),
        }
        for stat in ("p50", "p99", "max")
    }
    polls = result.get("longpoll") or {}
    if "error" not in polls:
        print(
            f"  {'longpoll/project':<32} {polls['with_message_once']}/{polls['polls']} polls "
            f"woken with the message; last after {polls['wake_ms']['max']} ms "
            f"(WebSocket: project {wakes['websocket_project'].get('max')} ms, "
            f"bare {wakes['websocket_bare'].get('max')} ms)",
            flush=True,
        )
    return result


def format_table(result: dict[str, Any]) -> str:
    config = result["config"]
    polls = result.get("longpoll") or {}
    lines = [f"Long polls: {config['polls']} waiting over {config['workers']} workers, one POST"]
    if "error" in polls:
        lines.append(f"  long polls FAILED: {polls['error'].splitlines()[0]}")
    else:
        lines.append(
            f"  answered with the message, once: {polls['with_message_once']} of "
            f"{polls['polls']}; before the POST: {polls['answered_before_post']}; "
            f"POST {polls['post_status']} in {polls['post_ms']} ms"
        )
    header = (
        f"{'wake, ms':<10} {'long poll':>10} {'WS project':>11} {'WS bare':>10} "
        f"{'poll/WS proj':>13} {'WS proj/bare':>13}"
    )
    lines += [header, "-" * len(header)]
    for stat, label in (("p50", "p50"), ("p99", "p99"), ("max", "last")):
        cells = [
            ((result.get(key) or {}).get("wake_ms") or {}).get(stat)
            for key in ("longpoll", "websocket_project", "websocket_bare")
        ]
        ratios = result["ratios"][stat]
        lines.append(
            f"{label:<10} {cells[0]!s:>10} {cells[1]!s:>11} {cells[2]!s:>10} "
            f"{ratios['longpoll_vs_websocket_project']:>13} "
            f"{ratios['websocket_project_vs_bare']:>13}"
        )
    for key in ("websocket_project", "websocket_bare"):
        row = result.get(key) or {}
        if "error" in row:
            lines.append(f"  {key} FAILED: {row['error'].splitlines()[0]}")
        elif row:
            lines.append(
                f"  {key}: {row['delivered']}/{row['expected']} delivered, lost/dup/ooo "
                f"{row['lost']}/{row['duplicated']}/{row['out_of_order']}"
            )
    lines.append("")
    return "\n".join(lines)
