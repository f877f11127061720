"""Fixed-window rate limits kept in the cache (Redis in production, so every server
process shares them; cache.incr is atomic there)."""

from __future__ import annotations

import math
import time

from django.core.cache import cache


class RateLimited(Exception):
    def __init__(self, retry_after: int):
        super().__init__(f"Too many requests; retry after {retry_after} seconds.")
        self.retry_after = retry_after


def _window_key(key: str, window: int) -> tuple[str, int]:
    now = time.time()
    start = int(now // window) * window
    return f"rl:{key}:{start}", max(1, math.ceil(start + window - now))


def hit(key: str, *, limit: int, window: int) -> None:
    """Count one event; raise RateLimited when this window already holds `limit`."""
    cache_key, retry_after = _window_key(key, window)
    cache.add(cache_key, 0, timeout=window + 1)
    try:
        count = cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.set(cache_key, 1, timeout=window + 1)
        count = 1
    if count > limit:
        raise RateLimited(retry_after)


def check(key: str, *, limit: int, window: int) -> None:
    """Raise RateLimited if the window is already full, without counting."""
    cache_key, retry_after = _window_key(key, window)
    if (cache.get(cache_key) or 0) >= limit:
        raise RateLimited(retry_after)


def clear(key: str, *, window: int) -> None:
    cache.delete(_window_key(key, window)[0])
