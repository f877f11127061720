"""Shared by the benchmark's smoke tests: the PostgreSQL server they make databases on,
and the check that a run left nothing behind."""

from __future__ import annotations

import os

import psycopg
import redis

from tests.conftest import need

POSTGRES_URL = os.environ.get("TEST_POSTGRES_SERVER", "postgres://postgres@127.0.0.1:5432")


def need_postgres() -> None:
    try:
        psycopg.connect(f"{POSTGRES_URL}/postgres", connect_timeout=2).close()
    except psycopg.Error:
        need(f"PostgreSQL is not running at {POSTGRES_URL}")


def assert_nothing_left(*, database: str, redis_url: str, key_pattern: str) -> None:
    """The run's database is dropped and its Redis keys deleted."""
    with psycopg.connect(f"{POSTGRES_URL}/postgres") as connection:
        row = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [database]
        ).fetchone()
    assert row is None
    client = redis.Redis.from_url(redis_url)
    try:
        assert list(client.scan_iter(match=key_pattern)) == []
    finally:
        client.close()
