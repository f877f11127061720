"""bench.scenarios.longpoll_latency, tiny, through bench.run (real PostgreSQL and Redis,
one daphne worker): 0, 1 and 3 long polls kept waiting beside one socket, re-issued as
they time out, every echo back once, a ratio per count, and nothing left behind."""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from bench import run
from tests.bench import POSTGRES_URL, assert_nothing_left, need_postgres
from tests.conftest import REDIS_URL, need, redis_available

pytestmark = pytest.mark.live

COUNTS = (0, 1, 3)
RATE, DURATION, WAIT = 10, 3, 2  # every poll times out and is re-issued while sending


def test_longpoll_latency_keeps_the_polls_waiting_and_times_every_echo(tmp_path):
    if not redis_available():
        need("Redis is not running on 127.0.0.1:6379")
    need_postgres()
    output = tmp_path / "run.json"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        status = run.main(
            [
                "--suite=longpoll_latency",
                f"--longpoll-latency-polls={','.join(map(str, COUNTS))}",
                f"--longpoll-latency-rate={RATE}",
                f"--longpoll-latency-duration={DURATION}",
                f"--longpoll-latency-wait={WAIT}",
                "--drain=10",
                f"--redis-url={REDIS_URL}",
                f"--postgres-url={POSTGRES_URL}",
                f"--output={output}",
            ]
        )
    document = json.loads(output.read_text())
    assert document["problems"] == []
    assert status == 0, printed.getvalue()

    result = document["scenarios"]["longpoll_latency"]
    assert result["config"]["workers"] == 1
    assert result["warmup"]["delivered"] == RATE * DURATION
    cases = result["cases"]
    assert [row["poll_count"] for row in cases] == list(COUNTS)
    for row in cases:
        count = row["poll_count"]
        assert row["sent"] == row["delivered"] == RATE * DURATION
        assert (row["lost"], row["duplicated"], row["out_of_order"], row["errors"]) == (0,) * 4
        assert 0 < row["latency_ms"]["p50"] <= row["latency_ms"]["p99"] <= row["latency_ms"]["max"]
        assert row["waiting_at_start"] == count == row["waiting"]["max"]
        answers = row["poll_answers"]
        assert (answers["woken"], answers["errors"]) == (0, 0)
        assert answers["timeouts"] >= count  # each re-issued at least once while sending
        assert row["p99_ratio"] > 0
    assert cases[0]["p99_ratio"] == 1.0
    assert result["baseline_p99_ms"] == cases[0]["latency_ms"]["p99"]
    assert "Long polls beside a socket: 1 worker" in printed.getvalue()

    run_id = document["run_id"]
    assert_nothing_left(
        database=f"chatbench_{run_id}", redis_url=REDIS_URL, key_pattern=f"chatbench{run_id}*"
    )
