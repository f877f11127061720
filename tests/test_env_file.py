"""The optional `.env` file: it fills in the settings the environment leaves unset, a
real environment variable always wins, and CHAT_ENV_FILE names another file."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bench.stack import PROJECT_DIR

READ = (
    "import django; django.setup(); from django.conf import settings; "
    "print(settings.CHAT_EPHEMERAL_IDLE, settings.CHAT_CLEANUP_INTERVAL, settings.CHAT_REDIS_PREFIX)"
)
NAMES = ("CHAT_EPHEMERAL_IDLE", "CHAT_CLEANUP_INTERVAL", "CHANNEL_PREFIX", "CHAT_ENV_FILE")


def run(env_file, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in NAMES}
    environment.update(DJANGO_SETTINGS_MODULE="chatsite.settings", **env)
    if env_file is not None:
        environment["CHAT_ENV_FILE"] = str(env_file)
    return subprocess.run(
        [sys.executable, "-c", READ],
        cwd=PROJECT_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def env_file(tmp_path):
    path = tmp_path / "site.env"
    path.write_text(
        "# local settings\n"
        "CHAT_EPHEMERAL_IDLE=600\n"
        "export CHAT_CLEANUP_INTERVAL=2.5\n"
        'CHANNEL_PREFIX="from-file"\n'
    )
    return path


def test_the_env_file_fills_in_what_the_environment_leaves_unset(env_file):
    result = run(env_file)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["600", "2.5", "from-file"]


def test_a_real_environment_variable_wins_over_the_env_file(env_file):
    result = run(env_file, CHAT_EPHEMERAL_IDLE="42", CHANNEL_PREFIX="from-env")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["42", "2.5", "from-env"]


def test_a_bad_value_in_the_env_file_is_refused_like_one_in_the_environment(tmp_path):
    path = tmp_path / "bad.env"
    path.write_text("CHAT_CLEANUP_INTERVAL=0\n")
    result = run(path)
    assert result.returncode != 0
    assert "CHAT_CLEANUP_INTERVAL must be a positive number" in result.stderr


def test_an_env_file_that_is_named_but_missing_is_refused(tmp_path):
    result = run(tmp_path / "nowhere.env")
    assert result.returncode != 0
    assert "CHAT_ENV_FILE names" in result.stderr


def test_without_chat_env_file_the_project_roots_env_file_is_read():
    # Checked without touching the real project root: the default path is BASE_DIR/.env.
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import chatsite.settings as s; print(s._ENV_FILE == str(s.BASE_DIR / '.env'))",
        ],
        cwd=PROJECT_DIR,
        env={k: v for k, v in os.environ.items() if k != "CHAT_ENV_FILE"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"
