"""Rate limits shared by every server process.

Fixed windows (hit/check/clear) live in the cache, Redis in production, where
cache.incr is atomic; they count log-in failures and creations. Token buckets (take)
pace message posting: a burst, then a steady rate.
"""

from __future__ import annotations

import math
import threading
import time

from django.conf import settings
from django.core.cache import cache

from chatsite import redis_shards


class RateLimited(Exception):
    def __init__(self, retry_after: int):
        unit = "second" if retry_after == 1 else "seconds"
        super().__init__(f"Too many requests; retry after {retry_after} {unit}.")
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


# --- Token buckets ---------------------------------------------------------------------
# A bucket holds up to `burst` tokens and refills at `rate` tokens a second; each event
# takes one. With REDIS_URL the bucket lives in Redis and a Lua script updates it
# atomically with Redis's own clock, so every server process shares one bucket per key.
# Without Redis it lives in this process (the embedded default runs one process).

_TOKEN_BUCKET_LUA = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local burst = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local retry = 0
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  retry = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 1)
return {allowed, tostring(retry)}
"""

_local_buckets: dict[str, tuple[float, float]] = {}
_local_lock = threading.Lock()
_redis_clients: dict[str, object] = {}


def _redis_take(url: str, key: str, burst: int, rate: float) -> float:
    client = _redis_clients.get(url)
    if client is None:
        import redis

        client = redis.Redis.from_url(
            url,
            socket_timeout=5,
            socket_connect_timeout=5,
            retry_on_error=settings.REDIS_RETRY_ON_ERROR,  # see settings
        )
        client.token_bucket = client.register_script(_TOKEN_BUCKET_LUA)
        _redis_clients[url] = client
    allowed, retry = client.token_bucket(keys=[key], args=[burst, rate])
    return 0.0 if int(allowed) else float(retry)


def _local_take(key: str, burst: int, rate: float) -> float:
    now = time.monotonic()
    with _local_lock:
        tokens, stamp = _local_buckets.get(key, (float(burst), now))
        tokens = min(float(burst), tokens + (now - stamp) * rate)
        if tokens >= 1:
            _local_buckets[key] = (tokens - 1, now)
            return 0.0
        _local_buckets[key] = (tokens, now)
        return (1 - tokens) / rate


def take(key: str, *, burst: int, per_seconds: float) -> None:
    """Take a token from the bucket `key` (a burst of `burst`, refilled fully over
    `per_seconds`); raise RateLimited with the wait until the next token."""
    rate = burst / per_seconds
    full_key = f"{settings.CHAT_REDIS_PREFIX}:bucket:{key}"
    url = redis_shards.url_for(full_key)  # with several servers, the bucket's own
    wait = _redis_take(url, full_key, burst, rate) if url else _local_take(full_key, burst, rate)
    if wait > 0:
        raise RateLimited(max(1, math.ceil(wait)))


def reset_local_buckets() -> None:
    """For tests: forget this process's buckets."""
    with _local_lock:
        _local_buckets.clear()
