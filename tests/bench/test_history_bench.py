"""bench.scenarios.history, small: rooms of 200 and 2,000 messages in a database of its
own, one real daphne worker, three timed requests of each kind. Proves the fill makes
rows the API serves as the right pages, and that the run cleans up after itself."""

from __future__ import annotations

import json
import uuid

import pytest

from bench.scenarios import history
from tests.bench import POSTGRES_URL, assert_nothing_left, need_postgres

pytestmark = [pytest.mark.live, pytest.mark.redis]


def test_history_pages_are_right_and_timed(redis_url):
    need_postgres()
    run_id = uuid.uuid4().hex[:8]

    result = history.run(
        postgres_url=POSTGRES_URL, redis_url=redis_url, run_id=run_id, sizes=(200, 2000), pages=3
    )

    assert result["correct"] is True
    assert result["fill"]["rows"] == 2200
    for size in ("200", "2000"):
        for kind in history.KINDS:
            row = result["rooms"][size][kind]
            assert (row["requests"], row["wrong"], row["problems"]) == (3, 0, [])
            assert len(row["samples_ms"]) == 3 and all(ms > 0 for ms in row["samples_ms"])
            assert 0 < row["ms"]["p50"] <= row["ms"]["p99"]
    assert result["rooms"]["2000"]["before"]["expected"] == {
        "first_seq": 51,
        "last_seq": 100,
        "has_more": True,
    }
    assert result["rooms"]["2000"]["newest"]["expected"]["first_seq"] == 1951
    for kind in history.KINDS:
        assert all(ratio > 0 for ratio in result["ratios"][kind].values())
    assert "2,000/200" in history.format_table(result)

    # Nothing left behind: the database is dropped, the run's Redis keys deleted.
    assert_nothing_left(
        database=f"chatbench_hist_{run_id}",
        redis_url=redis_url,
        key_pattern=f"chatbenchhist{run_id}-*",
    )


def test_the_page_check_catches_wrong_answers():
    def body(seqs, has_more=True) -> bytes:
        messages = [{"seq": s, "kind": "text", "deleted": False} for s in seqs]
        return json.dumps({"messages": messages, "has_more": has_more}).encode()

    expected = history.expected_page("before", 1_000_000, 10_000)
    assert expected == (9950, 9999, True)
    assert history.check_page(200, body(range(9950, 10_000)), expected) is None
    assert "49 messages" in history.check_page(200, body(range(9951, 10_000)), expected)
    assert "has_more" in history.check_page(200, body(range(9950, 10_000), False), expected)
    assert "status 404" in history.check_page(404, b"{}", expected)
    assert history.expected_page("newest", 1000, None) == (951, 1000, True)
    assert history.expected_page("after", 1000, 5) == (6, 55, True)
