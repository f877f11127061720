"""WebSocket load generator: R rooms x M members, one sender per room.

Every member (the sender included) holds one socket joined to its room. After all
sockets have joined, each room's sender sends at a fixed rate for a fixed duration;
then the generator drains: it waits until every socket has every message, until
nothing has arrived for `stall` seconds, or until `drain` seconds are up. It reports:

- deliveries per second: message frames received by all sockets, over the time from
  the first send to the last delivery (under overload: the system's capacity);
- latency, send -> receive, for every delivery (one process, one monotonic clock);
- lost, duplicated and out-of-order counts, which must all be 0. Lost: a message a
  socket never got although it got a later one from the same sender, or, when the
  drain ended because nothing more arrived, any message it never got. Messages still
  queued when an overloaded run hits the drain limit, while deliveries are still
  flowing, are counted apart as `in_flight` (backlog, not loss);
- out-of-order: received after a message its sender sent later; duplicated: twice.

Messages are identified by their client_id, `b<room>-<n>`, with n counting up per
sender, so the same checks work for both targets:

- `project`: the chat site's /ws/chat/, authenticated with `Authorization: Bearer`
  tokens from bench.project_setup (pass its JSON output with --plan);
- `bare`: bench.bare, no auth; it also numbers each sender's messages (`seq`).

    python -m bench.load --target bare --url ws://127.0.0.1:8001/ws/chat/ \\
        --rooms 10 --members 20 --rate 10 --duration 5
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

BIG_ROOM_QUIET = 2.5  # seconds: see LoadConfig.quiet


@dataclass
class LoadConfig:
    rooms: int = 10
    members: int = 20
    rate: float = 10.0  # messages per second per room (one sender per room)
    duration: float = 5.0  # seconds of sending
    drain: float = 15.0  # at most this long to wait for the last deliveries
    stall: float = 3.0  # ...and give up earlier once nothing has arrived for this long
    body_size: int = 100  # characters per message body
    connect_concurrency: int = 20  # sockets connecting and joining at once
    open_timeout: float = 20.0
    # Before sending, also wait until nothing has arrived for this long (at most
    # `settle_max`): in a big room the join-time presence lists take a while to drain.
    # BIG_ROOM_QUIET outlasts the gap between two of a big room's lists (up to 2 s,
    # rooms.realtime.presence.PRESENCE_MAX_SPACING), so no list is still to come.
    quiet: float = 0.0
    settle_max: float = 30.0
    # The message mix (the rich scenario): every Nth send replies to the newest message
    # its sender has seen, every Nth carries one of the room's prepared uploads; 0 = none.
    reply_every: int = 0
    attach_every: int = 0


@dataclass
class RoomPlan:
    room_id: int
    # One entry per member: the Bearer token (project) or None (bare).
    tokens: list[str | None]
    # Upload ids the room's sender may attach, one per message (project, rich scenario).
    uploads: list[Any] = field(default_factory=list)


@dataclass
class LoadResult:
    target: str
    rooms: int
    members: int
    rate: float
    duration: float
    sockets: int
    connect_seconds: float
    sent: int
    send_seconds: float
    expected: int
    delivered: int
    deliveries_per_second: float
    latency_ms: dict[str, float]
    lost: int
    in_flight: int
    duplicated: int
    out_of_order: int
    errors: int
    closed: int
    drain_seconds: float
    drain_timed_out: bool
    client_cpu_seconds: float
    settle_seconds: float = 0.0
    # Deliveries of messages that came back as replies / with attachments: proof that the
    # mix reached the server and was stored as such (the bare app echoes the fields).
    delivered_replies: int = 0
    delivered_with_attachments: int = 0
    error_samples: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Run:
    """Shared state of one load run: send times, and counters every socket updates."""

    def __init__(self, members_per_room: dict[int, int]) -> None:
        self.sent_at: dict[tuple[int, int], float] = {}
        self.sent_per_room: dict[int, int] = dict.fromkeys(members_per_room, 0)
        self.members_per_room = members_per_room
        self.latencies: list[float] = []
        self.delivered = 0
        self.delivered_replies = 0
        self.delivered_with_attachments = 0
        self.newest_seq: dict[int, int] = dict.fromkeys(members_per_room, 0)
        self.duplicated = 0
        self.out_of_order = 0
        self.errors = 0
        self.closed = 0
        self.error_samples: list[str] = []
        self.first_send: float | None = None
        self.last_delivery: float | None = None
        self.last_frame = time.perf_counter()
        self.sending_done = False
        self.closing = False  # set when the generator itself closes the sockets
        self.all_delivered = asyncio.Event()

    def expected(self) -> int:
        return sum(n * self.members_per_room[r] for r, n in self.sent_per_room.items())

    def check_done(self) -> None:
        if self.sending_done and self.delivered >= self.expected():
            self.all_delivered.set()

    def note_error(self, text: str) -> None:
        self.errors += 1
        if len(self.error_samples) < 5:
            self.error_samples.append(text[:300])


class Member:
    def __init__(self, run: Run, room_id: int, socket: ClientConnection) -> None:
        self.run = run
        self.room_id = room_id
        self.socket = socket
        self.seen: set[int] = set()
        self.highest = -1  # the newest n (sender's count) received
        self.last_seq = 0  # the server's seq of the last message received
        self.prefix = f"b{room_id}-"

    async def receive_forever(self) -> None:
        run = self.run
        try:
            async for raw in self.socket:
                now = run.last_frame = time.perf_counter()
                frame = json.loads(raw)
                kind = frame.get("type")
                if kind == "message":
                    self._on_message(frame["message"], now)
                elif kind == "error":
                    run.note_error(raw if isinstance(raw, str) else raw.decode())
        except ConnectionClosed:
            pass
        if not run.closing:
            run.closed += 1

    def _on_message(self, message: dict[str, Any], now: float) -> None:
        run = self.run
        client_id = message.get("client_id") or ""
        if message.get("room") != self.room_id or not client_id.startswith(self.prefix):
            return  # not one of ours (a system message, say)
        n = int(client_id[len(self.prefix) :])
        if n in self.seen:
            run.duplicated += 1
            return
        self.seen.add(n)
        # Both orders must hold: the sender's (n) and the server's seq (the room's seq
        # for the project, the sending socket's counter for the bare app).
        seq = message.get("seq")
        if n < self.highest or (isinstance(seq, int) and seq <= self.last_seq):
            run.out_of_order += 1
        self.highest = max(self.highest, n)
        if isinstance(seq, int):
            self.last_seq = max(self.last_seq, seq)
            run.newest_seq[self.room_id] = max(run.newest_seq[self.room_id], seq)
        run.delivered += 1
        run.delivered_replies += message.get("reply_to") is not None
        run.delivered_with_attachments += bool(message.get("attachments"))
        run.latencies.append(now - run.sent_at[(self.room_id, n)])
        run.last_delivery = now
        run.check_done()


async def _open(url: str, token: str | None, config: LoadConfig) -> ClientConnection:
    headers = {"Authorization": f"Bearer {token}"} if token else None
    return await connect(
        url,
        additional_headers=headers,
        compression=None,
        open_timeout=config.open_timeout,
        max_size=2**20,
        max_queue=None,  # never stop reading: the client must not be the bottleneck
    )


async def _join(socket: ClientConnection, room_id: int, within: float) -> dict[str, Any]:
    await socket.send(json.dumps({"type": "join", "room": room_id, "after": None}))
    async with asyncio.timeout(within):
        while True:
            frame = json.loads(await socket.recv())
            if frame.get("type") == "joined" and frame.get("room") == room_id:
                return frame
            if frame.get("type") == "error":
                raise RuntimeError(f"join of room {room_id} refused: {frame}")


def _mix(run: Run, room: RoomPlan, config: LoadConfig, n: int) -> dict[str, Any]:
    """The optional fields of send number n: a reply to the newest message seen, an
    attachment from the room's prepared uploads."""
    extra: dict[str, Any] = {}
    newest = run.newest_seq[room.room_id]
    if config.reply_every and n % config.reply_every == config.reply_every - 1 and newest:
        extra["reply_to"] = newest
    attach = config.attach_every and n % config.attach_every == config.attach_every - 1
    if attach and room.uploads:
        extra["attachments"] = [room.uploads.pop()]
    return extra


async def _send_loop(
    run: Run, sender: ClientConnection, room: RoomPlan, config: LoadConfig, start: float
) -> None:
    room_id = room.room_id
    body_pad = "x" * max(0, config.body_size - 24)
    interval = 1.0 / config.rate
    count = int(config.duration * config.rate)
    loop = asyncio.get_running_loop()
    for n in range(count):
        delay = start + n * interval - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        client_id = f"b{room_id}-{n}"
        frame = json.dumps(
            {
                "type": "send",
                "room": room_id,
                "body": f"{client_id} {body_pad}",
                "client_id": client_id,
                **_mix(run, room, config, n),
            }
        )
        run.sent_at[(room_id, n)] = time.perf_counter()
        run.sent_per_room[room_id] += 1
        try:
            await sender.send(frame)
        except ConnectionClosed:
            run.note_error(f"sender of room {room_id} closed after {n} sends")
            return


async def _drain(run: Run, config: LoadConfig) -> bool:
    """Wait for the last deliveries. True if the drain limit cut off a run that was
    still delivering; False if everything arrived or deliveries stopped (stalled)."""
    started = time.perf_counter()
    while not run.all_delivered.is_set():
        now = time.perf_counter()
        last = max(run.last_delivery or started, started)
        if now - last >= config.stall:
            return False
        if now - started >= config.drain:
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(run.all_delivered.wait(), timeout=0.25)
    return False


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(fraction * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


async def run_load(
    *,
    target: str,
    urls: list[str],
    plan: list[RoomPlan],
    config: LoadConfig,
    on_phase: Callable[[str], None] | None = None,
) -> LoadResult:
    """Connect every member, let each room's first member send, and measure.

    `on_phase` is called with "sending" just before the first send and "drained" after
    the drain, so a caller can measure its servers' CPU over exactly that span."""
    on_phase = on_phase or (lambda phase: None)
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    run = Run({room.room_id: len(room.tokens) for room in plan})
    members: list[Member] = []
    senders: dict[int, ClientConnection] = {}
    gate = asyncio.Semaphore(config.connect_concurrency)
    readers: list[asyncio.Task] = []

    async def open_member(room_id: int, token: str | None, url: str, is_sender: bool) -> None:
        async with gate:
            socket = await _open(url, token, config)
            joined = await _join(socket, room_id, config.open_timeout)
        newest = joined.get("last_seq")
        if isinstance(newest, int):
            run.newest_seq[room_id] = max(run.newest_seq[room_id], newest)
        members.append(Member(run, room_id, socket))
        if is_sender:
            senders[room_id] = socket

    on_phase("connecting")
    connect_started = time.perf_counter()
    opening = []
    for room_index, room in enumerate(plan):
        for index, token in enumerate(room.tokens):
            # Round-robin over the workers, so fan-out crosses processes; the offset
            # spreads the rooms' senders (member 0) over the workers too.
            url = urls[(room_index + index) % len(urls)]
            opening.append(open_member(room.room_id, token, url, index == 0))
    try:
        await asyncio.gather(*opening)
        connect_seconds = time.perf_counter() - connect_started
        readers = [asyncio.create_task(m.receive_forever()) for m in members]
        settle_started = time.perf_counter()
        await asyncio.sleep(0.5)  # let join-time chatter (presence frames) settle
        while config.quiet > 0 and time.perf_counter() - settle_started < config.settle_max:
            still = config.quiet - (time.perf_counter() - run.last_frame)
            if still <= 0:
                break
            await asyncio.sleep(min(still, 0.1))
        settle_seconds = time.perf_counter() - settle_started

        on_phase("sending")
        loop = asyncio.get_running_loop()
        start = loop.time() + 0.05
        run.first_send = time.perf_counter() + 0.05
        spread = 1.0 / (config.rate * len(plan))
        await asyncio.gather(
            *(
                _send_loop(run, senders[room.room_id], room, config, start + i * spread)
                for i, room in enumerate(plan)
            )
        )
        send_seconds = time.perf_counter() - run.first_send
        run.sending_done = True
        run.check_done()
        drain_started = time.perf_counter()
        drain_timed_out = await _drain(run, config)
        drain_seconds = time.perf_counter() - drain_started
        on_phase("drained")
    finally:
        run.closing = True
        await asyncio.gather(*(m.socket.close() for m in members), return_exceptions=True)
        for m in members:
            await m.socket.wait_closed()
    await asyncio.gather(*readers, return_exceptions=True)

    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    latencies = sorted(run.latencies)
    expected = run.expected()
    span = (run.last_delivery or run.first_send) - run.first_send
    lost = in_flight = 0
    for m in members:
        missing = set(range(run.sent_per_room[m.room_id])) - m.seen
        if drain_timed_out:
            # Still flowing when the limit came: what is after the newest message this
            # socket got is queued, not lost (per-sender order is checked separately).
            late = {n for n in missing if n > m.highest}
            in_flight += len(late)
            missing -= late
        lost += len(missing)
    return LoadResult(
        target=target,
        rooms=len(plan),
        members=max(len(r.tokens) for r in plan),
        rate=config.rate,
        duration=config.duration,
        sockets=len(members),
        connect_seconds=round(connect_seconds, 3),
        sent=sum(run.sent_per_room.values()),
        send_seconds=round(send_seconds, 3),
        expected=expected,
        delivered=run.delivered,
        deliveries_per_second=round(run.delivered / span, 1) if span > 0 else 0.0,
        latency_ms={
            "p50": round(percentile(latencies, 0.50) * 1000, 2),
            "p90": round(percentile(latencies, 0.90) * 1000, 2),
            "p99": round(percentile(latencies, 0.99) * 1000, 2),
            "max": round(latencies[-1] * 1000, 2) if latencies else float("nan"),
        },
        lost=lost,
        in_flight=in_flight,
        duplicated=run.duplicated,
        out_of_order=run.out_of_order,
        errors=run.errors,
        closed=run.closed,
        drain_seconds=round(drain_seconds, 3),
        drain_timed_out=drain_timed_out,
        client_cpu_seconds=round(
            (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime),
            2,
        ),
        error_samples=run.error_samples,
        delivered_replies=run.delivered_replies,
        delivered_with_attachments=run.delivered_with_attachments,
        settle_seconds=round(settle_seconds, 3),
    )


def bare_plan(rooms: int, members: int, first_room: int = 1) -> list[RoomPlan]:
    return [RoomPlan(first_room + i, [None] * members) for i in range(rooms)]


def project_plan(data: dict[str, Any], members: int | None = None) -> list[RoomPlan]:
    """The plan from bench.project_setup's JSON output."""
    return [
        RoomPlan(
            room["id"],
            list(room["tokens"][:members] if members else room["tokens"]),
            list(room.get("uploads", [])),
        )
        for room in data["rooms"]
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", choices=["project", "bare"], required=True)
    parser.add_argument("--url", action="append", required=True, help="ws URL; repeat per worker")
    parser.add_argument("--plan", help="JSON from bench.project_setup (project target)")
    parser.add_argument("--rooms", type=int, default=LoadConfig.rooms)
    parser.add_argument("--members", type=int, default=LoadConfig.members)
    parser.add_argument("--rate", type=float, default=LoadConfig.rate)
    parser.add_argument("--duration", type=float, default=LoadConfig.duration)
    parser.add_argument("--drain", type=float, default=LoadConfig.drain)
    parser.add_argument("--stall", type=float, default=LoadConfig.stall)
    parser.add_argument("--body-size", type=int, default=LoadConfig.body_size)
    args = parser.parse_args(argv)

    config = LoadConfig(
        rooms=args.rooms,
        members=args.members,
        rate=args.rate,
        duration=args.duration,
        drain=args.drain,
        stall=args.stall,
        body_size=args.body_size,
    )
    if args.target == "project":
        if not args.plan:
            parser.error("--plan is required for the project target")
        with open(args.plan) as plan_file:
            plan = project_plan(json.load(plan_file), args.members)[: args.rooms]
    else:
        plan = bare_plan(args.rooms, args.members)
    result = asyncio.run(run_load(target=args.target, urls=args.url, plan=plan, config=config))
    json.dump(result.as_dict(), sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
