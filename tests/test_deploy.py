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


def test_the_two_redis_override_adds_a_server_and_names_both_to_every_app_service(tmp_path):
    if shutil.which("docker-compose") is None:
        need("Debian's docker-compose is not installed (apt-get install docker-compose)")
    shutil.copy(ROOT / "docker-compose.yml", tmp_path / "docker-compose.yml")
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    shutil.copytree(ROOT / "deploy", tmp_path / "deploy")
    result = subprocess.run(
        ["docker-compose", "-f", "docker-compose.yml", "-f", "deploy/compose.two-redis.yml"]
        + ["config"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},  # no REDIS_URL of ours leaks into the defaults
    )
    assert result.returncode == 0, result.stderr
    assert "\n  redis-2:" in result.stdout
    both = "REDIS_URL: redis://redis:6379/0,redis://redis-2:6379/0"
    assert result.stdout.count(both) == 3, result.stdout  # migrate, web, gateway
