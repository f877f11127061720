"""The load generator against the bare app: one real daphne worker, in-memory layer,
about two seconds of load. Proves bench.load counts every delivery exactly once."""

from __future__ import annotations

import asyncio

import pytest

from bench import load
from bench.stack import Stack

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
