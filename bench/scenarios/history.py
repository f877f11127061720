"""History pages over HTTP in a room of 1,000,000 messages against one of 1,000.

    python -m bench.scenarios.history                       # sizes 1000,1000000
    python -m bench.scenarios.history --sizes 1000,1000000 --pages 50

One run creates its own PostgreSQL database (`chatbench_hist_<run id>`, dropped at the
end), migrates it, makes one user with an API token and one public room per size
through the project's services (bench.history_setup, in a child process with the
workers' settings), and fills each room with SQL (generate_series): seq and rev 1..N,
kind 'text', that user as author, no client_id, as message_post would have stored
them. Then one daphne worker (bench.stack) answers, over real HTTP with
`Authorization: Bearer`, `pages` requests of each kind per room, interleaved so a busy
moment of a shared machine falls on every size alike:

- newest: `GET /api/rooms/{id}/messages`;
- before: `?before=N/100`, deep in the history (at least 101, so the page is full);
- after: `?after=N/200`, near the start.

Every answer is checked (50 messages, consecutive seqs, the expected range, has_more).
It reports p50 / p99 / mean milliseconds per request and the ratio largest / smallest
size for each kind; the target is at most 1.5x. Redis keys live under a prefix of the
run's own, deleted afterwards; nothing else in Redis or PostgreSQL is touched.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.common import (
    DEFAULT_POSTGRES,
    DEFAULT_REDIS,
    PRODUCTION_ENV,
    RESULTS_DIR,
    collect_static,
    create_database,
    delete_redis_prefix,
    drop_database,
    machine_busy,
    migrate_quietly,
    run_setup,
)
from bench.load import percentile
from bench.stack import Stack, env_pairs

PAGE = 50  # CHAT_PAGE_DEFAULT: what the API answers without ?limit
KINDS = ("newest", "before", "after")
TARGET_RATIO = 1.5
WARMUP = 5  # untimed requests per kind and room: connection, code paths, cached pages
MIN_SIZE = 2 * PAGE + 1  # the smallest room where every kind gets a full page


def _setup(*, sizes: tuple[int, ...], tag: str, child_env: dict[str, str]) -> dict[str, Any]:
    arguments = [f"--sizes={','.join(map(str, sizes))}", f"--tag={tag}"]
    return run_setup("bench.history_setup", arguments, env=child_env)


# --- the fill --------------------------------------------------------------------------

# Exactly the columns message_post writes; created runs one second apart up to now(),
# so the newest message is the room's last_message_at, as after real posting.
INSERT_SQL = """
INSERT INTO rooms_message (room_id, seq, rev, kind, author_id, body, client_id, created,
    edited_at, deleted, deleted_at, deleted_by_id, reactions, thread_only, reply_count,
    attachments)
SELECT %(room)s, g, g, 'text', %(author)s, 'history message ' || g, NULL,
    now() - (%(size)s - g) * interval '1 second', NULL, false, NULL, NULL, '{}'::jsonb,
    false, 0, '[]'::jsonb
FROM generate_series(1, %(size)s) AS g
"""
# Secondary indexes (not the primary key or the (room, seq) constraint) and foreign keys
# of rooms_message, read from the catalog so the rebuild follows the migrations. This
# includes the full-text GIN index of migrations 0007/0010 (_message_search.py), which
# on PostgreSQL is an expression index and needs no trigger, only rebuilding.
INDEXES_SQL = """
SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
FROM pg_index i
WHERE i.indrelid = 'rooms_message'::regclass
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                  WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid)
"""
FOREIGN_KEYS_SQL = """
SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
WHERE conrelid = 'rooms_message'::regclass AND contype = 'f'
"""


def fill(database_url: str, *, rooms: dict[int, int], author_id: int) -> dict[str, Any]:
    """Insert `size` messages into each room ({size: room_id}) in one transaction.

    Row by row index and foreign-key upkeep made 1,000,000 rows take ~30 s; dropping
    the secondary indexes and foreign keys first and rebuilding them after (what
    pg_restore does) takes about half that. The rows are the same either way, and the
    re-added foreign keys check every one of them."""
    import psycopg

    started = time.perf_counter()
    insert_seconds: dict[str, float] = {}
    with psycopg.connect(database_url) as connection, connection.transaction():
        indexes = connection.execute(INDEXES_SQL).fetchall()
        foreign_keys = connection.execute(FOREIGN_KEYS_SQL).fetchall()
        for name, _ in foreign_keys:
            connection.execute(f'ALTER TABLE rooms_message DROP CONSTRAINT "{name}"')
        for name, _ in indexes:
            connection.execute(f"DROP INDEX {name}")
        for size, room_id in sorted(rooms.items()):
            print(f"  filling room {room_id} with {size:,} messages", end="", flush=True)
            begun = time.perf_counter()
            params = {"room": room_id, "author": author_id, "size": size}
            connection.execute(INSERT_SQL, params)
            connection.execute(
                "UPDATE rooms_room SET last_seq = %(size)s, last_rev = %(size)s, "
                "last_message_at = now() WHERE id = %(room)s",
                params,
            )
            # The author has read their own messages, as _append_message records.
            connection.execute(
                "UPDATE rooms_membership SET last_read_seq = %(size)s "
                "WHERE room_id = %(room)s AND user_id = %(author)s",
                params,
            )
            insert_seconds[str(size)] = round(time.perf_counter() - begun, 2)
            print(f": {insert_seconds[str(size)]} s", flush=True)
        print(
            f"  rebuilding {len(indexes)} indexes and {len(foreign_keys)} foreign keys", flush=True
        )
        begun = time.perf_counter()
        connection.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for name, definition in foreign_keys:
            connection.execute(f'ALTER TABLE rooms_message ADD CONSTRAINT "{name}" {definition}')
        for _, definition in indexes:
            connection.execute(definition)
        rebuild_seconds = time.perf_counter() - begun
    # Set hint bits and the visibility map, and give the planner statistics, as
    # autovacuum would have on a table that grew over months.
    begun = time.perf_counter()
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute("VACUUM (ANALYZE) rooms_message")
        connection.execute("ANALYZE")
    vacuum_seconds = time.perf_counter() - begun
    return {
        "rows": sum(rooms.keys()),
        "insert_seconds": insert_seconds,
        "rebuild_seconds": round(rebuild_seconds, 2),
        "vacuum_analyze_seconds": round(vacuum_seconds, 2),
        "seconds": round(time.perf_counter() - started, 2),
    }


# --- the requests ------------------------------------------------------------------------


def cursors(size: int) -> dict[str, int | None]:
    return {"newest": None, "before": max(size // 100, MIN_SIZE), "after": size // 200}


def expected_page(kind: str, size: int, cursor: int | None) -> tuple[int, int, bool]:
    """(first seq, last seq, has_more) of a correct answer."""
    if kind == "newest":
        return size - PAGE + 1, size, size > PAGE
    if kind == "before":
        return cursor - PAGE, cursor - 1, cursor - PAGE > 1
    return cursor + 1, cursor + PAGE, cursor + PAGE < size


def check_page(status: int, body: bytes, expected: tuple[int, int, bool]) -> str | None:
    """None if the answer is the expected page, else what is wrong with it."""
    if status != 200:
        return f"status {status}: {body[:200]!r}"
    try:
        data = json.loads(body)
    except ValueError:
        return f"not JSON: {body[:200]!r}"
    first, last, has_more = expected
    seqs = [message.get("seq") for message in data.get("messages", [])]
    if seqs != list(range(first, last + 1)):
        shown = seqs if len(seqs) <= 6 else [*seqs[:3], "...", *seqs[-3:]]
        return f"{len(seqs)} messages, seqs {shown}, expected {first}..{last}"
    if data.get("has_more") is not has_more:
        return f"has_more {data.get('has_more')!r}, expected {has_more}"
    if any(m.get("kind") != "text" or m.get("deleted") for m in data["messages"]):
        return "a message that is not a live text message"
    return None


class Client:
    """One keep-alive HTTP/1.1 connection; requests one after another."""

    def __init__(self, url: str, token: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self.connection: http.client.HTTPConnection | None = None

    def get(self, path: str) -> tuple[int, bytes, float]:
        """(status, body, milliseconds from sending to the last byte of the body)."""
        for attempt in (1, 2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
            try:
                started = time.perf_counter()
                self.connection.request("GET", path, headers=self.headers)
                response = self.connection.getresponse()
                body = response.read()
                elapsed = (time.perf_counter() - started) * 1000
            except (http.client.HTTPException, ConnectionError):
                # The server closed an idle keep-alive connection: reconnect once.
                self.close()
                if attempt == 2:
                    raise
                continue
            if response.will_close:
                self.close()
            return response.status, body, elapsed
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def measure(
    client: Client, *, rooms: dict[int, int], pages: int
) -> dict[str, dict[str, dict[str, Any]]]:
    """Time `pages` requests of every kind in every room, interleaved, and check each."""
    plan = []
    for size, room_id in sorted(rooms.items()):
        for kind, cursor in cursors(size).items():
            query = "" if cursor is None else f"?{kind}={cursor}"
            plan.append((size, kind, cursor, f"/api/rooms/{room_id}/messages{query}"))
    for _ in range(WARMUP):
        for _, _, _, path in plan:
            client.get(path)
    samples: dict[tuple[int, str], list[float]] = {(s, k): [] for s, k, _, _ in plan}
    problems: dict[tuple[int, str], list[str]] = {(s, k): [] for s, k, _, _ in plan}
    for _ in range(pages):
        for size, kind, cursor, path in plan:
            status, body, elapsed = client.get(path)
            samples[size, kind].append(elapsed)
            problem = check_page(status, body, expected_page(kind, size, cursor))
            if problem:
                problems[size, kind].append(problem)
    results: dict[str, dict[str, dict[str, Any]]] = {}
    for size, kind, cursor, path in plan:
        ordered = sorted(samples[size, kind])
        first, last, has_more = expected_page(kind, size, cursor)
        results.setdefault(str(size), {})[kind] = {
            "path": path,
            "cursor": cursor,
            "expected": {"first_seq": first, "last_seq": last, "has_more": has_more},
            "requests": len(ordered),
            "wrong": len(problems[size, kind]),
            "problems": problems[size, kind][:5],
            "ms": {
                "p50": round(percentile(ordered, 0.50), 2),
                "p99": round(percentile(ordered, 0.99), 2),
                "mean": round(sum(ordered) / len(ordered), 2),
                "min": round(ordered[0], 2),
                "max": round(ordered[-1], 2),
            },
            "samples_ms": [round(value, 3) for value in samples[size, kind]],
        }
    return results


# --- the scenario ------------------------------------------------------------------------


def run(
    *,
    postgres_url: str,
    redis_url: str,
    run_id: str,
    sizes: tuple[int, ...] = (1000, 1000000),
    pages: int = 50,
    extra_env: dict[str, str] | None = None,
) -> dict:
    """Create, fill, measure, clean up; returns the figures (see format_table)."""
    if not re.fullmatch(r"[a-z0-9_]+", run_id):
        raise ValueError("run_id must be lower-case letters, digits and underscores")
    sizes = tuple(sorted(set(sizes)))
    if not sizes or sizes[0] < MIN_SIZE:
        raise ValueError(f"every size must be at least {MIN_SIZE} (a full page of each kind)")
    if pages < 1:
        raise ValueError("pages must be at least 1")
    postgres_url = postgres_url.rstrip("/")
    started = time.perf_counter()
    database_name = f"chatbench_hist_{run_id}"
    prefix = f"chatbenchhist{run_id}-"
    env = {**PRODUCTION_ENV, "CHANNEL_PREFIX": prefix, "LOG_LEVEL": "WARNING", **(extra_env or {})}
    result: dict[str, Any] = {
        "scenario": "history",
        "run_id": run_id,
        "server": "daphne",
        "workers": 1,
        "sizes": list(sizes),
        "pages": pages,
        "page_size": PAGE,
        "warmup_per_kind": WARMUP,
        "target_ratio": TARGET_RATIO,
        "env": dict(extra_env or {}),
    }
    print(f"history: database {database_name}, sizes {', '.join(f'{s:,}' for s in sizes)}")
    database_url = create_database(postgres_url, database_name)
    try:
        migrate_quietly(database_url, redis_url)
        collect_static()
        child_env = Stack(1, database_url=database_url, redis_url=redis_url, env=env).environment()
        setup = _setup(sizes=sizes, tag=run_id, child_env=child_env)
        rooms = {int(size): room_id for size, room_id in setup["rooms"].items()}
        result["fill"] = fill(database_url, rooms=rooms, author_id=setup["user_id"])
        print(
            f"  filled {result['fill']['rows']:,} messages in {result['fill']['seconds']} s "
            f"(indexes and keys {result['fill']['rebuild_seconds']} s, "
            f"vacuum {result['fill']['vacuum_analyze_seconds']} s)",
            flush=True,
        )
        result["machine_busy_before"] = round(machine_busy(0.5), 3)
        with Stack(
            1, database_url=database_url, redis_url=redis_url, env=env, start_timeout=60
        ) as stack:
            client = Client(stack.urls[0], setup["token"])
            try:
                print(f"  {pages} requests of each kind per room on {stack.urls[0]}", flush=True)
                result["rooms"] = measure(client, rooms=rooms, pages=pages)
            finally:
                client.close()
    finally:
        with contextlib.suppress(Exception):
            delete_redis_prefix(redis_url, prefix)
        drop_database(postgres_url, database_name)
    small, large = str(sizes[0]), str(sizes[-1])
    result["ratio_of"] = [sizes[-1], sizes[0]]
    result["ratios"] = {
        kind: {
            stat: round(result["rooms"][large][kind]["ms"][stat] / value, 2) if value else None
            for stat, value in result["rooms"][small][kind]["ms"].items()
            if stat in ("p50", "p99", "mean")
        }
        for kind in KINDS
    }
    # p50 and mean: p99 of 50 requests is one request, at the mercy of a shared machine.
    result["within_target"] = {
        kind: all(
            ratio is not None and ratio <= TARGET_RATIO
            for stat, ratio in ratios.items()
            if stat in ("p50", "mean")
        )
        for kind, ratios in result["ratios"].items()
    }
    result["correct"] = all(
        row["wrong"] == 0 for room in result["rooms"].values() for row in room.values()
    )
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def format_table(result: dict) -> str:
    sizes = result["sizes"]
    header = (
        f"{'page':<7} {'messages':>10} {'cursor':>8} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'mean ms':>8} {'wrong':>6}"
    )
    lines = [
        f"History pages over HTTP ({result['server']}, {result['workers']} worker, "
        f"{result['pages']} requests each, {result['page_size']} messages a page)",
        header,
        "-" * len(header),
    ]
    large, small = result["ratio_of"]
    for kind in KINDS:
        for size in sizes:
            row = result["rooms"][str(size)][kind]
            cursor = "-" if row["cursor"] is None else str(row["cursor"])
            ms = row["ms"]
            lines.append(
                f"{kind:<7} {size:>10,} {cursor:>8} {ms['p50']:>8.2f} {ms['p99']:>8.2f} "
                f"{ms['mean']:>8.2f} {row['wrong']:>6}"
            )
        ratios = result["ratios"][kind]

        def show(value: float | None) -> str:
            return "-" if value is None else f"{value:.2f}x"

        verdict = "ok" if result["within_target"][kind] else "OVER"
        lines.append(
            f"{kind:<7} {f'{large:,}/{small:,}':>19} {show(ratios['p50']):>8} "
            f"{show(ratios['p99']):>8} {show(ratios['mean']):>8}  "
            f"target <= {result['target_ratio']:g}x: {verdict}"
        )
        lines.append("")
    fill = result.get("fill", {})
    lines.append(
        f"fill: {fill.get('rows', 0):,} messages in {fill.get('seconds')} s; "
        f"machine {result.get('machine_busy_before', float('nan')):.0%} busy before; "
        f"answers {'all correct' if result['correct'] else 'WRONG (see problems)'}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scenarios.history", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--sizes", default="1000,1000000", help="messages per room")
    parser.add_argument("--pages", type=int, default=50, help="timed requests per kind")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES, help="server, no db name")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL") or DEFAULT_REDIS)
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="extra worker setting"
    )
    parser.add_argument("--output", default=None, help="JSON path (default bench/results/)")
    args = parser.parse_args(argv)
    extra_env = env_pairs(parser, args.env)
    sizes = tuple(int(value) for value in args.sizes.split(",") if value.strip())
    run_id = uuid.uuid4().hex[:8]
    result = run(
        postgres_url=args.postgres_url,
        redis_url=args.redis_url,
        run_id=run_id,
        sizes=sizes,
        pages=args.pages,
        extra_env=extra_env,
    )
    print()
    print(format_table(result))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    output = Path(args.output) if args.output else RESULTS_DIR / f"history-{stamp}-{run_id}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {output} ({result['seconds']} s)")
    for room in result["rooms"].values():
        for row in room.values():
            for problem in row["problems"]:
                print(f"  wrong answer to {row['path']}: {problem}", file=sys.stderr)
    return 0 if result["correct"] else 1


if __name__ == "__main__":
    sys.exit(main())
