"""GET /healthz for load balancers and compose health checks: 200 when the database
and (if configured) Redis answer, 503 naming what failed. Operational, not a domain,
so it sits beside the root urls."""

from __future__ import annotations

import asyncio

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection
from django.http import JsonResponse

from chatsite import redis_shards
from rooms.realtime import hub


def _database_ok() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


async def _ping(url: str) -> None:
    import redis.asyncio as redis

    client = redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        await client.ping()
    finally:
        await client.aclose()


async def _redis_ok() -> None:
    """Every server REDIS_URL names answers (each holds a share of the rooms)."""
    await asyncio.gather(*(_ping(url) for url in redis_shards.urls()))


async def healthz(request):
    checks: dict[str, str] = {}
    try:
        await asyncio.wait_for(sync_to_async(_database_ok)(), timeout=3)
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure is "down" here
        checks["database"] = f"error: {type(exc).__name__}"
    if settings.REDIS_URL:
        try:
            await asyncio.wait_for(_redis_ok(), timeout=3)
            checks["redis"] = "ok"
        except Exception as exc:  # noqa: BLE001
            checks["redis"] = f"error: {type(exc).__name__}"
    else:
        checks["redis"] = "not configured (in-memory channel layer)"
    healthy = all(v == "ok" or v.startswith("not configured") for v in checks.values())
    body = {"status": "ok" if healthy else "unavailable", **checks}
    # Not a check: how many long polls wait on this worker (its event loop) right now.
    body["long_polls"] = hub.waiting()
    return JsonResponse(body, status=200 if healthy else 503)
