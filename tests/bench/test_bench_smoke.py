"""The load generator against the bare app: one real daphne worker, in-memory layer,
about two seconds of load. Proves bench.load counts every delivery exactly once.

Then the suite of bench.run, tiny (on the real PostgreSQL and Redis): every scenario
delivers every message once, the long polls all wake with the message, idle sockets
stay open and their memory is measured, the run cleans up and draws its plot."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json

import pytest

from bench import load, plot, run
from bench.common import problems
from bench.stack import Stack
from tests.bench import POSTGRES_URL, assert_nothing_left, need_postgres
from tests.conftest import REDIS_URL, need, redis_available

pytestmark = pytest.mark.live


def test_load_generator_sees_every_bare_message_once_and_in_order(tmp_path):
    config = load.LoadConfig(rooms=2, members=3, rate=10, duration=2, drain=5)
    with Stack(
        1,
        # The bare app never opens it; the project's settings, which it imports, parse it.
        database_url=f"sqlite:///{tmp_path / 'unused.sqlite3'}",
        env={"DJANGO_SETTINGS_MODULE": "bench.bare_settings"},
        asgi="bench.bare:application",
        log_dir=tmp_path,
    ) as stack:
        result = asyncio.run(
            load.run_load(
                target="bare",
                urls=stack.ws_urls,
                plan=load.bare_plan(config.rooms, config.members),
                config=config,
            )
        )

    assert result.sent == 2 * 20
    assert result.delivered == result.expected == 2 * 20 * 3
    assert (result.lost, result.duplicated, result.out_of_order) == (0, 0, 0)
    assert (result.errors, result.closed) == (0, 0)
    assert 0 < result.latency_ms["p50"] <= result.latency_ms["p99"]


# --- the suite, tiny: every scenario of bench.run but fanout and history ----------------
# (fanout is the generator test above plus the same machinery; history has its own test)

IDLE_SOCKETS = 30
LONG_POLLS = 10
BIGROOM_MEMBERS = 10


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    """One tiny run of the suite: (exit status, the JSON document, its path, stdout)."""
    if not redis_available():
        need("Redis is not running on 127.0.0.1:6379")
    need_postgres()
    scenarios = ["bigroom", "idle", "longpoll", "scaling", "servers", "rich", "shards"]
    output = tmp_path_factory.mktemp("bench") / "run.json"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        status = run.main(
            [
                f"--suite={','.join(scenarios)}",
                "--rooms=2",
                "--members=3",
                "--duration=0.5",
                "--drain=5",
                "--stall=1",
                f"--bigroom-members={BIGROOM_MEMBERS}",
                "--bigroom-rates=2",
                f"--idle-sockets={IDLE_SOCKETS}",
                "--idle-rooms=3",
                "--idle-hold=0.5",
                f"--longpolls={LONG_POLLS}",
                "--scaling-rate=5",
                "--servers-rates=3",
                "--rich-rate=20",
                "--shards-rate=5",
                f"--redis-url={REDIS_URL}",
                f"--postgres-url={POSTGRES_URL}",
                f"--output={output}",
            ]
        )
    return status, json.loads(output.read_text()), output, printed.getvalue()


def test_the_suite_passes_and_cleans_up(suite):
    status, document, _, printed = suite
    assert document["problems"] == []
    assert status == 0, printed
    for key in ("machine", "code", "config"):
        assert document[key]
    run_id = document["run_id"]
    assert_nothing_left(
        database=f"chatbench_{run_id}", redis_url=REDIS_URL, key_pattern=f"chatbench{run_id}*"
    )


def assert_every_message_once(row):
    assert "error" not in row, row.get("error")
    assert row["delivered"] == row["expected"] > 0
    assert (row["lost"], row["duplicated"], row["out_of_order"], row["errors"]) == (0, 0, 0, 0)


def test_bigroom_delivers_every_message_to_every_member(suite):
    _, document, _, printed = suite
    result = document["scenarios"]["bigroom"]
    assert {row["app"] for row in result["cases"]} == {"project", "bare"}
    for row in result["cases"]:
        assert_every_message_once(row)
        assert (row["rooms"], row["sockets"]) == (1, BIGROOM_MEMBERS)
        assert row["expected"] == row["sent"] * BIGROOM_MEMBERS
        # CPU is counted in clock ticks (10 ms): one tiny message may cost "0".
        assert row["server"]["worker_cpu_ms_per_delivery"] >= 0
    assert "Big room: 1 room x 10 members" in printed


def test_idle_sockets_all_stay_open_and_cost_memory(suite):
    _, document, _, printed = suite
    result = document["scenarios"]["idle"]
    for app in ("project", "bare"):
        row = result["apps"][app]
        assert "error" not in row, row.get("error")
        assert (row["opened"], row["failed"], row["still_open_after_hold"]) == (
            IDLE_SOCKETS,
            0,
            IDLE_SOCKETS,
        )
        assert isinstance(row["retried"], int)
        assert all(kib > 0 for kib in row["rss_before_kib"] + row["rss_after_kib"])
        assert row["kib_per_socket"] > 0
        assert 0 < row["connect_join_ms"]["p50"] <= row["connect_join_ms"]["p99"]
        assert row["open_all_seconds"] > 0
    assert result["memory_ratio"] > 0
    assert "memory per socket, KiB" in printed


def test_one_post_wakes_every_long_poll_once(suite):
    _, document, _, printed = suite
    result = document["scenarios"]["longpoll"]
    polls = result["longpoll"]
    assert polls["post_status"] == 201
    assert polls["answered_before_post"] == 0
    assert polls["answered"] == polls["with_message_once"] == LONG_POLLS
    assert 0 < polls["wake_ms"]["p50"] <= polls["wake_ms"]["max"]
    for key in ("websocket_project", "websocket_bare"):
        assert_every_message_once(result[key])
        assert result[key]["delivered"] == LONG_POLLS
        assert result[key]["wake_ms"]["max"] > 0
    assert result["ratios"]["max"]["longpoll_vs_websocket_project"].endswith("x")
    assert "Long polls: 10 waiting" in printed


def test_scaling_runs_one_and_two_workers(suite):
    _, document, _, printed = suite
    result = document["scenarios"]["scaling"]
    assert sorted((r["app"], r["workers"]) for r in result["cases"]) == [
        ("bare", 1),
        ("bare", 2),
        ("project", 1),
        ("project", 2),
    ]
    for row in result["cases"]:
        assert_every_message_once(row)
    assert set(result["two_over_one"]) == {"project", "bare"}
    assert all(value > 0 for value in result["two_over_one"].values())
    assert "Scaling:" in printed


def test_shards_runs_four_workers_on_two_redis_servers(suite):
    _, document, _, printed = suite
    result = document["scenarios"]["shards"]
    assert sorted((r["app"], r["redis_servers"], r["workers"]) for r in result["cases"]) == [
        ("bare", 1, 2),
        ("bare", 2, 4),
        ("project", 1, 2),
        ("project", 2, 4),
    ]
    for row in result["cases"]:
        assert_every_message_once(row)
    project_two = next(
        r for r in result["cases"] if r["app"] == "project" and r["redis_servers"] == 2
    )
    # Groups, presence and socket slots of 6 users on both servers, none on one alone.
    first, second = project_two["redis_keys_per_server"]
    assert first > 0 and second > 0, project_two["redis_keys_per_server"]
    assert set(result["two_servers_over_one"]) == {"project", "bare"}
    assert "Shards:" in printed


def test_servers_compares_uvicorn_with_daphne(suite):
    _, document, _, printed = suite
    cases = document["scenarios"]["servers"]["cases"]
    assert sorted((r["app"], r["asgi_server"]) for r in cases) == [
        ("bare", "daphne"),
        ("bare", "uvicorn"),
        ("project", "daphne"),
        ("project", "uvicorn"),
    ]
    for row in cases:
        assert_every_message_once(row)
    assert "uvicorn/daphne" in printed


def test_rich_sends_replies_and_files_in_the_mix_and_they_come_back_as_such(suite):
    _, document, _, printed = suite
    cases = document["scenarios"]["rich"]["cases"]
    assert sorted((r["app"], r["mix"]) for r in cases) == [
        ("bare", "files"),
        ("bare", "plain"),
        ("bare", "replies"),
        ("project", "files"),
        ("project", "plain"),
        ("project", "replies"),
    ]
    for row in cases:
        assert_every_message_once(row)
        if row["mix"] == "plain":
            assert row["delivered_replies"] == row["delivered_with_attachments"] == 0
        else:
            # The project echoes reply_to only for a reply it stored as one.
            assert 0 < row["delivered_replies"] < row["delivered"]
        if row["mix"] == "files":
            # ...and attachments only for files it stored on the message.
            assert 0 < row["delivered_with_attachments"] < row["delivered"]
    assert "project files / plain" in printed


def test_the_run_draws_a_plot_and_bench_plot_redraws_it(suite, tmp_path):
    _, document, output, _ = suite
    drawn = output.with_suffix(".png")
    assert drawn.read_bytes().startswith(b"\x89PNG")

    redrawn = tmp_path / "again.png"
    assert plot.main([str(output), "--output", str(redrawn)]) == 0
    assert redrawn.stat().st_size > 10_000
    assert redrawn.read_bytes().startswith(b"\x89PNG")


def test_a_failed_scenario_or_a_lost_message_is_a_problem():
    result = {
        "cases": [
            {"name": "a", "lost": 0, "duplicated": 0, "out_of_order": 0},
            {"name": "b", "lost": 2, "duplicated": 0, "out_of_order": 1},
            {"name": "c", "error": "RuntimeError: no"},
        ],
        "apps": {"project": {"name": "idle/project", "problems": ["3 sockets failed"]}},
    }
    assert problems(result, "x") == [
        "b: lost 2",
        "b: out_of_order 1",
        "c: RuntimeError: no",
        "idle/project: 3 sockets failed",
    ]
    assert problems({"cases": [{"name": "a", "lost": 0}]}, "x") == []
