"""Which Redis server holds a key, when REDIS_URL names several.

REDIS_URL may list servers, comma-separated. channels-redis spreads channels and
groups over them itself (its `hosts`); the keys the site writes directly (presence,
rate-limit buckets, cache entries such as log-in windows and socket tickets) are
spread here, each key on the server a stable hash of its name picks. Every process
computes the same answer without asking anyone, and since each of those keys is read
and written alone (one command, or one script on one key), sharding never splits an
atomic step. Adding or removing a server moves keys: presence and buckets are
short-lived and rebuild themselves, like a Redis restart.
"""

from __future__ import annotations

import zlib
from functools import lru_cache

from django.conf import settings


@lru_cache(maxsize=16)
def split(value: str) -> tuple[str, ...]:
    """The server URLs in a REDIS_URL value (empty: none)."""
    return tuple(url.strip() for url in value.split(",") if url.strip())


def urls() -> tuple[str, ...]:
    return split(settings.REDIS_URL)


def index_for(key: str | bytes, count: int) -> int:
    """The shard of `key` among `count` servers (crc32: the same in every process)."""
    if count <= 1:
        return 0
    data = key.encode() if isinstance(key, str) else key
    return zlib.crc32(data) % count


def url_for(key: str) -> str:
    """The URL of the server that holds `key` ("" when Redis is not configured)."""
    servers = urls()
    return servers[index_for(key, len(servers))] if servers else ""
