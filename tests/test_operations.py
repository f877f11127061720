"""Health check, deployment checks and request logging."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.django_db
def test_healthz_is_200_when_the_database_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"


@pytest.mark.django_db
def test_healthz_is_503_naming_redis_when_redis_is_down(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable" and body["redis"].startswith("error")
    assert body["database"] == "ok"


@pytest.mark.django_db
def test_healthz_checks_the_real_redis(client, settings, redis_url):
    settings.REDIS_URL = redis_url
    assert client.get("/healthz").json()["redis"] == "ok"


def test_check_deploy_reports_nothing_with_the_production_variables():
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "chat.example.com",
        "CSRF_TRUSTED_ORIGINS": "https://chat.example.com",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_still_warns_of_hsts_and_insecure_cookies_through_our_middleware():
    # SecurityMiddleware and CsrfViewMiddleware run as subclasses (chatsite.middleware),
    # which Django's own checks do not see: chatsite/checks.py must say it instead.
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "chat.example.com",
        "CSRF_TRUSTED_ORIGINS": "https://chat.example.com",
        "SECURE_HSTS_SECONDS": "0",
        "SECURE_COOKIES": "false",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "(security.W004)" in result.stderr, result.stdout + result.stderr
    assert "(security.W016)" in result.stderr


def test_production_refuses_the_embedded_secret_key():
    env = {**os.environ, "DEBUG": "false"}
    env.pop("SECRET_KEY", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr


@pytest.mark.django_db
def test_each_request_logs_one_line_with_its_id_and_no_body(client, alice, caplog):
    client.force_login(alice)
    with caplog.at_level("INFO", logger="chatsite.request"):
        response = client.post(
            "/api/rooms",
            {"name": "top secret name"},
            content_type="application/json",
            headers={"X-Request-ID": "abc-123"},
        )
    assert response["X-Request-ID"] == "abc-123"
    lines = [r.getMessage() for r in caplog.records if r.name == "chatsite.request"]
    assert len(lines) == 1
    assert "id=abc-123" in lines[0] and "path=/api/rooms" in lines[0]
    assert "top secret" not in lines[0]
