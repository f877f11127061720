"""Optional py-spy sampling of the workers while a scenario sends (--py-spy PATH)."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from bench.common import RESULTS_DIR


def profile_path(run_id: str, case_name: str, worker: int) -> Path:
    safe = case_name.replace("/", "-")
    return RESULTS_DIR / f"profile-{run_id}-{safe}-worker{worker}.txt"


def start_profiler(
    py_spy: str, pid: int, output: Path, *, gil: bool = False
) -> subprocess.Popen[bytes]:
    """py-spy sampling one worker (all threads) until stopped, in collapsed-stack form.
    `gil`: only the thread holding the GIL, so the samples are Python's CPU time rather
    than threads waiting on the database or Redis."""
    output.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [py_spy, "record", "--nonblocking", "--format", "raw", "--rate", "200"]
        + (["--gil"] if gil else [])
        + ["--output", str(output), "--pid", str(pid)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop_profilers(profilers: list[subprocess.Popen[bytes]]) -> None:
    """SIGINT makes py-spy write its file; then reap."""
    for profiler in profilers:
        if profiler.poll() is None:
            profiler.send_signal(signal.SIGINT)
    for profiler in profilers:
        try:
            profiler.wait(timeout=30)
        except subprocess.TimeoutExpired:
            profiler.kill()
            profiler.wait()
    profilers.clear()
