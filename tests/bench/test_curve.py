"""bench.curve: offered-vs-delivered points and the "no collapse" share, from a run's JSON."""

from __future__ import annotations

import json

from bench import curve


def _case(app, offered, delivered, **extra):
    return {"app": app, "offered": offered, "deliveries_per_second": delivered, **extra}


RESULT = {
    "code": {"commit": "abcdef1234"},
    "scenarios": {
        "fanout": {
            "config": {"rooms": 10, "members": 20, "workers": 1, "layers": ["core"]},
            "cases": [
                _case("project", 3000, 2000.0),
                _case("project", 1000, 1000.0),
                _case("project", 5000, 1500.0),
                _case("bare", 1000, 1000.0),
                _case("bare", 5000, 2400.0),
                {"app": "bare", "offered": 9000, "error": "stack failed"},
            ],
        }
    },
}


def test_points_are_sorted_by_offered_load_and_skip_failed_cases():
    lines = curve.points(RESULT)
    assert lines["project"] == [(1000, 1000), (3000, 2000), (5000, 1500)]
    assert lines["bare"] == [(1000, 1000), (5000, 2400)]


def test_the_share_kept_at_the_top_load_shows_a_collapse():
    lines = curve.points(RESULT)
    assert curve.held_share(lines["project"]) == 0.75  # 1500 of its best 2000
    assert curve.held_share(lines["bare"]) == 1.0


def test_main_prints_the_table_and_draws_the_png(tmp_path, capsys):
    path = tmp_path / "run.json"
    path.write_text(json.dumps(RESULT))
    assert curve.main([str(path)]) == 0
    out = capsys.readouterr().out
    assert "project  keeps 75% of its best" in out
    assert (tmp_path / "run-curve.png").stat().st_size > 1000
