"""Django's Redis cache, with each key on the server its hash picks.

Django's RedisCache, given several servers, writes to the first and reads from the
others as replicas. Here the servers named by REDIS_URL are independent (a key lives
on one: chatsite/redis_shards.py), so a key's every command goes to its own server and
the commands on many keys are split by server. With one server it is Django's cache.
"""

from __future__ import annotations

from collections import defaultdict

from django.core.cache.backends.redis import RedisCache, RedisCacheClient

from chatsite import redis_shards


class ShardedRedisCacheClient(RedisCacheClient):
    def _pool_at(self, index: int):
        if index not in self._pools:
            self._pools[index] = self._pool_class.from_url(
                self._servers[index], **self._pool_options
            )
        return self._pools[index]

    def _client_at(self, index: int):
        return self._client(connection_pool=self._pool_at(index))

    def get_client(self, key=None, *, write=False):
        # Every caller of Django's client that names one key passes it here.
        return self._client_at(0 if key is None else self._index(key))

    def _index(self, key) -> int:
        return redis_shards.index_for(key, len(self._servers))

    def _by_server(self, keys) -> dict[int, list]:
        groups: dict[int, list] = defaultdict(list)
        for key in keys:
            groups[self._index(key)].append(key)
        return groups

    def get_many(self, keys):
        found = {}
        for index, group in self._by_server(keys).items():
            values = self._client_at(index).mget(group)
            found.update(
                {
                    k: self._serializer.loads(v)
                    for k, v in zip(group, values, strict=True)
                    if v is not None
                }
            )
        return found

    def set_many(self, data, timeout):
        for index, group in self._by_server(data).items():
            pipeline = self._client_at(index).pipeline()
            pipeline.mset({k: self._serializer.dumps(data[k]) for k in group})
            if timeout is not None:
                for key in group:
                    pipeline.expire(key, timeout)
            pipeline.execute()

    def delete_many(self, keys):
        for index, group in self._by_server(keys).items():
            self._client_at(index).delete(*group)

    def clear(self):
        return all([bool(self._client_at(i).flushdb()) for i in range(len(self._servers))])


class ShardedRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = ShardedRedisCacheClient
