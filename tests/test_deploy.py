"""The compose file parses with Debian's docker-compose (no Docker engine needed)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.conftest import need

ROOT = Path(__file__).resolve().parent.parent


def test_docker_compose_file_is_valid_and_has_the_whole_stack(tmp_path):
    if shutil.which("docker-compose") is None:
        need("Debian's docker-compose is not installed (apt-get install docker-compose)")
    shutil.copy(ROOT / "docker-compose.yml", tmp_path / "docker-compose.yml")
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    (tmp_path / "deploy").mkdir()
    shutil.copy(ROOT / "deploy" / "nginx.conf", tmp_path / "deploy" / "nginx.conf")
    result = subprocess.run(
        ["docker-compose", "config"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    for service in ("postgres:", "redis:", "migrate:", "web:", "gateway:", "nginx:"):
        assert f"\n  {service}" in result.stdout
    assert "healthcheck" in result.stdout
