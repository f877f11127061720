"""Who has a socket joined to which room, shared by every server process.

Each socket registers (room, user, channel) with an expiry and refreshes it on a
heartbeat, so a socket or a whole process that dies without a goodbye drops out
within CHAT_PRESENCE_TTL seconds. With REDIS_URL the entries live in one Redis sorted set
per room (score = expiry), each on its server when REDIS_URL names several; without it, in this process's memory (one process only).
A user is online in a room while any of their sockets' entries is live.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Protocol

from django.conf import settings

from chatsite import redis_shards
from rooms import wire
from rooms.realtime import events

log = logging.getLogger(__name__)

SITE = 0  # the "room" every socket registers in while connected at all


def ttl() -> int:
    """Seconds an entry lives without a heartbeat (CHAT_PRESENCE_TTL, default 90)."""
    return settings.CHAT_PRESENCE_TTL


def heartbeat_seconds() -> float:
    """Each socket refreshes its entries three times per TTL."""
    return settings.CHAT_PRESENCE_TTL / 3


def _member(user_id: int, username: str, channel: str) -> str:
    # A guest's name may hold "|" (rooms/guests.py); a user id and a channel name never
    # do, so the name is whatever lies between the first "|" and the last.
    return f"{user_id}|{username}|{channel}"


def _username(member: str) -> str:
    return member[member.index("|") + 1 : member.rindex("|")]


def _usernames(members: list[str]) -> list[str]:
    return sorted({_username(m) for m in members})


def _split_names(text: str) -> list[str]:
    """The names a script returns as one string, one per line (a name is one line)."""
    return sorted(set(text.split("\n"))) if text else []


class PresenceStore(Protocol):
    async def enter(
        self, room_id: int, user_id: int, username: str, channel: str
    ) -> tuple[list[str], bool]: ...
    async def leave(self, room_id: int, user_id: int, username: str, channel: str) -> bool: ...
    async def add(self, room_id: int, user_id: int, username: str, channel: str) -> None: ...
    async def remove(self, room_id: int, user_id: int, username: str, channel: str) -> None: ...
    async def online(self, room_id: int) -> list[str]: ...
    async def sockets_of(self, room_id: int, user_id: int) -> int: ...
    async def prune(self, room_id: int) -> int: ...
    async def claim(self, user_id: int, channel: str, cap: int) -> bool: ...
    async def claim_and_add(
        self, room_id: int, user_id: int, username: str, channel: str, cap: int
    ) -> bool: ...
    async def release(self, user_id: int, channel: str) -> None: ...


async def _claim_then_add(
    store: PresenceStore, room_id: int, user_id: int, username: str, channel: str, cap: int
) -> bool:
    """claim_and_add() as two steps, where one atomic step is not available."""
    if not await store.claim(user_id, channel, cap):
        return False
    await store.add(room_id, user_id, username, channel)
    return True


class MemoryPresence:
    def __init__(self) -> None:
        self.rooms: dict[int, dict[str, float]] = {}
        self.slots: dict[int, dict[str, float]] = {}  # user id -> channel -> expiry

    async def claim(self, user_id: int, channel: str, cap: int) -> bool:
        # No await between the count and the add: atomic within the event loop.
        now = time.time()
        slots = {c: e for c, e in self.slots.get(user_id, {}).items() if e > now}
        if channel not in slots and len(slots) >= cap:
            self.slots[user_id] = slots
            return False
        slots[channel] = now + ttl()
        self.slots[user_id] = slots
        return True

    async def claim_and_add(
        self, room_id: int, user_id: int, username: str, channel: str, cap: int
    ) -> bool:
        return await _claim_then_add(self, room_id, user_id, username, channel, cap)

    async def release(self, user_id: int, channel: str) -> None:
        self.slots.get(user_id, {}).pop(channel, None)

    async def add(self, room_id: int, user_id: int, username: str, channel: str) -> None:
        self.rooms.setdefault(room_id, {})[_member(user_id, username, channel)] = (
            time.time() + ttl()
        )

    async def remove(self, room_id: int, user_id: int, username: str, channel: str) -> None:
        self.rooms.get(room_id, {}).pop(_member(user_id, username, channel), None)

    def _present(self, room_id: int, user_id: int, username: str) -> bool:
        now, prefix = time.time(), _member(user_id, username, "")
        entries = self.rooms.get(room_id, {})
        return any(exp > now and m.startswith(prefix) for m, exp in entries.items())

    async def enter(
        self, room_id: int, user_id: int, username: str, channel: str
    ) -> tuple[list[str], bool]:
        arrived = not self._present(room_id, user_id, username)
        await self.add(room_id, user_id, username, channel)
        return await self.online(room_id), arrived

    async def leave(self, room_id: int, user_id: int, username: str, channel: str) -> bool:
        member = _member(user_id, username, channel)
        expires = self.rooms.get(room_id, {}).pop(member, None)
        was_live = expires is not None and expires > time.time()
        return was_live and not self._present(room_id, user_id, username)

    async def prune(self, room_id: int) -> int:
        entries = self.rooms.get(room_id, {})
        now = time.time()
        dead = [m for m, expires in entries.items() if expires <= now]
        for member in dead:
            del entries[member]
        return len(dead)

    async def online(self, room_id: int) -> list[str]:
        now = time.time()
        return _usernames([m for m, exp in self.rooms.get(room_id, {}).items() if exp > now])

    async def sockets_of(self, room_id: int, user_id: int) -> int:
        now = time.time()
        prefix = f"{user_id}|"
        return sum(
            1
            for m, exp in self.rooms.get(room_id, {}).items()
            if exp > now and m.startswith(prefix)
        )


class RedisPresence:
    """Presence in Redis; with several servers in REDIS_URL each key (a room's set, a
    user's slots) lives on the server chatsite.redis_shards picks for it, and every
    command below touches one key."""

    def __init__(self, urls: tuple[str, ...]) -> None:
        import redis.asyncio as redis

        self.urls = urls
        self._redis = redis
        self._clients: dict[tuple[int, int], object] = {}

    def _client(self, key: str):
        # One client per event loop and server: tests and management commands run
        # several loops.
        import asyncio

        index = redis_shards.index_for(key, len(self.urls))
        client_key = (id(asyncio.get_running_loop()), index)
        client = self._clients.get(client_key)
        if client is None:
            # A blocking pool waits for a free connection instead of raising when a
            # burst of sockets needs more than the cap at once.
            pool = self._redis.BlockingConnectionPool.from_url(
                self.urls[index],
                decode_responses=True,
                max_connections=500,
                timeout=10,
                retry_on_error=settings.REDIS_RETRY_ON_ERROR,  # see settings
            )
            client = self._redis.Redis(connection_pool=pool)
            self._clients[client_key] = client
        return client

    @staticmethod
    def _key(room_id: int) -> str:
        return f"{settings.CHAT_REDIS_PREFIX}:presence:room:{room_id}"

    @staticmethod
    def _slots_key(user_id: int) -> str:
        return f"{settings.CHAT_REDIS_PREFIX}:presence:slots:{user_id}"

    # Count the user's live connections and add this one in one Redis step, so many
    # connects at once (on any number of processes) can never pass the cap together.
    # With a second key (a room's set on the same server), a claim that succeeds also
    # adds the entry ARGV[6] there: a connect in one round trip.
    _CLAIM = """
    redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
    if redis.call('ZSCORE', KEYS[1], ARGV[3]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[4]) then
      redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
      redis.call('EXPIRE', KEYS[1], ARGV[5])
      if #KEYS > 1 then
        redis.call('ZADD', KEYS[2], ARGV[2], ARGV[6])
        redis.call('EXPIRE', KEYS[2], ARGV[5])
      end
      return 1
    end
    return 0
    """

    async def claim(self, user_id: int, channel: str, cap: int) -> bool:
        now = time.time()
        key = self._slots_key(user_id)
        claimed = await self._client(key).eval(
            self._CLAIM, 1, key, now, now + ttl(), channel, cap, ttl() * 2
        )
        return bool(claimed)

    async def claim_and_add(
        self, room_id: int, user_id: int, username: str, channel: str, cap: int
    ) -> bool:
        """claim(), then add() on success; one script when both keys share a server."""
        key, room_key = self._slots_key(user_id), self._key(room_id)
        count = len(self.urls)
        if redis_shards.index_for(key, count) != redis_shards.index_for(room_key, count):
            return await _claim_then_add(self, room_id, user_id, username, channel, cap)
        now = time.time()
        claimed = await self._client(key).eval(
            self._CLAIM,
            2,
            key,
            room_key,
            now,
            now + ttl(),
            channel,
            cap,
            ttl() * 2,
            _member(user_id, username, channel),
        )
        return bool(claimed)

    async def release(self, user_id: int, channel: str) -> None:
        key = self._slots_key(user_id)
        await self._client(key).zrem(key, channel)

    async def add(self, room_id: int, user_id: int, username: str, channel: str) -> None:
        key = self._key(room_id)
        async with self._client(key).pipeline(transaction=False) as pipe:
            pipe.zadd(key, {_member(user_id, username, channel): time.time() + ttl()})
            pipe.expire(key, ttl() * 2)
            await pipe.execute()

    async def remove(self, room_id: int, user_id: int, username: str, channel: str) -> None:
        key = self._key(room_id)
        await self._client(key).zrem(key, _member(user_id, username, channel))

    # The distinct names of a list of entries, one per line: one string to parse, not
    # one reply per socket (a 500-member room's join parsed 500 replies).
    _NAMES = """
    local function names(members)
      local seen, out = {}, {}
      for _, member in ipairs(members) do
        local first = string.find(member, '|', 1, true)
        local last = string.match(member, '^.*()|')
        local name = string.sub(member, first + 1, last - 1)
        if not seen[name] then seen[name] = true table.insert(out, name) end
      end
      return table.concat(out, '\\n')
    end
    """

    # A join in one round trip: the live entries, whether the user was among them
    # (any of their sockets: ARGV[4] is "user id|username|"), then this socket's entry.
    _ENTER = (
        _NAMES
        + """
    local live = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], '+inf')
    local prefix = ARGV[4]
    local arrived = 1
    for _, member in ipairs(live) do
      if string.sub(member, 1, #prefix) == prefix then arrived = 0 break end
    end
    redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
    redis.call('EXPIRE', KEYS[1], ARGV[5])
    table.insert(live, ARGV[3])
    return {arrived, names(live)}
    """
    )

    _ONLINE = _NAMES + "return names(redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], '+inf'))"

    # A leave in one round trip: drop this socket's entry; 1 if it was live and the
    # user has no other live entry (they went offline in the room).
    _LEAVE = """
    local score = redis.call('ZSCORE', KEYS[1], ARGV[2])
    redis.call('ZREM', KEYS[1], ARGV[2])
    if not score or tonumber(score) <= tonumber(ARGV[1]) then return 0 end
    local prefix = ARGV[3]
    for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], '+inf')) do
      if string.sub(member, 1, #prefix) == prefix then return 0 end
    end
    return 1
    """

    async def enter(
        self, room_id: int, user_id: int, username: str, channel: str
    ) -> tuple[list[str], bool]:
        key, now = self._key(room_id), time.time()
        arrived, names = await self._client(key).eval(
            self._ENTER,
            1,
            key,
            now,
            now + ttl(),
            _member(user_id, username, channel),
            _member(user_id, username, ""),
            ttl() * 2,
        )
        return _split_names(names), bool(arrived)

    async def leave(self, room_id: int, user_id: int, username: str, channel: str) -> bool:
        key = self._key(room_id)
        went = await self._client(key).eval(
            self._LEAVE,
            1,
            key,
            time.time(),
            _member(user_id, username, channel),
            _member(user_id, username, ""),
        )
        return bool(went)

    async def prune(self, room_id: int) -> int:
        key = self._key(room_id)
        return await self._client(key).zremrangebyscore(key, "-inf", time.time())

    async def online(self, room_id: int) -> list[str]:
        key = self._key(room_id)
        return _split_names(await self._client(key).eval(self._ONLINE, 1, key, time.time()))

    async def _live(self, room_id: int) -> list[str]:
        key = self._key(room_id)
        return await self._client(key).zrangebyscore(key, time.time(), "+inf")

    async def sockets_of(self, room_id: int, user_id: int) -> int:
        members = await self._live(room_id)
        prefix = f"{user_id}|"
        return sum(1 for m in members if m.startswith(prefix))


_stores: dict[str, PresenceStore] = {}


def store() -> PresenceStore:
    """The store for the configured REDIS_URL (memory when unset)."""
    url = settings.REDIS_URL
    if url not in _stores:
        urls = redis_shards.split(url)
        _stores[url] = RedisPresence(urls) if urls else MemoryPresence()
    return _stores[url]


# --- What a connection does: shared by the chat socket and the TCP gateway ------------


# Presence frames are coalesced per room in each process: a burst of joins (a page
# reload of many tabs, a server restart) sends one current list instead of one frame
# per join to every socket, which grows with the square of the room's size. A big room's
# lists are also spaced further apart, so that each process sends a room at most about
# PRESENCE_DELIVERIES_PER_SECOND list deliveries a second (500 online: a list every 2 s)
# whatever its size: filling a 500-member room otherwise sent each socket a list of up to
# 500 names five times a second per process. A joining socket gets the list in `joined`.
PRESENCE_COALESCE_SECONDS = 0.2
PRESENCE_DELIVERIES_PER_SECOND = 250
PRESENCE_MAX_SPACING = 2.0
_presence_pending: dict[int, asyncio.Task] = {}
# A big room's spacing (rooms with fewer than 50 online have no entry): the loop time of
# its next list at the earliest, and the spacing of its last list.
_presence_quiet_until: dict[int, float] = {}
_presence_spacing: dict[int, float] = {}


def presence_spacing(online: int) -> float:
    """Seconds between two lists of a room of `online` users from one process."""
    spread = online / PRESENCE_DELIVERIES_PER_SECOND
    return min(PRESENCE_MAX_SPACING, max(PRESENCE_COALESCE_SECONDS, spread))


async def _announce(*, room_id: int) -> None:
    """Announce the room's online list soon (presence is not stored, so there is no
    transaction to wait for)."""
    loop = asyncio.get_running_loop()
    pending = _presence_pending.get(room_id)
    if pending is not None and not pending.done() and pending.get_loop() is loop:
        return  # a broadcast is already on its way and will read the newest list
    delay = PRESENCE_COALESCE_SECONDS
    quiet_until = _presence_quiet_until.get(room_id)
    if quiet_until is not None:
        delay = max(delay, quiet_until - loop.time())
    _presence_pending[room_id] = loop.create_task(_broadcast_presence(room_id, delay))


def _space(room_id: int, spacing: float) -> None:
    """No list of the room from this process before `spacing` seconds from now."""
    if spacing > PRESENCE_COALESCE_SECONDS:
        _presence_quiet_until[room_id] = asyncio.get_running_loop().time() + spacing
        _presence_spacing[room_id] = spacing
    else:
        _presence_quiet_until.pop(room_id, None)
        _presence_spacing.pop(room_id, None)


async def _broadcast_presence(room_id: int, delay: float) -> None:
    await asyncio.sleep(delay)
    # Unregister before reading, so a change during the read schedules another send;
    # until the read tells the room's size, that send waits as its last list's did.
    _presence_pending.pop(room_id, None)
    _space(room_id, _presence_spacing.get(room_id, PRESENCE_COALESCE_SECONDS))
    try:
        read_at = time.time()
        online = await store().online(room_id)
        _space(room_id, presence_spacing(len(online)))
        text = wire.frame("presence", room=room_id, online=online)
        # Two processes' lists can cross on the way; `at` lets each socket keep the
        # newest reading and drop an older one that arrives late.
        await events.asend(
            events.room_group(room_id),
            {"type": "chat.presence", "room": room_id, "at": read_at, "frame": text},
        )
    except Exception:
        log.warning("presence broadcast for room %s failed", room_id, exc_info=True)


async def site_enter(user_id: int, username: str, channel: str) -> bool:
    """Register a connection on the site, unless the user already has
    CHAT_SOCKETS_PER_USER open (then False, and nothing is registered). The count
    and the claim are one atomic step (one Redis script), whatever the concurrency."""
    return await store().claim_and_add(
        SITE, user_id, username, channel, settings.CHAT_SOCKETS_PER_USER
    )


async def site_leave(user_id: int, username: str, channel: str) -> bool:
    """Drop the connection from the site; True if that was the user's last one."""
    await store().release(user_id, channel)
    await store().remove(SITE, user_id, username, channel)
    return username not in await store().online(SITE)


async def room_enter(room_id: int, user_id: int, username: str, channel: str) -> list[str]:
    """Register the connection in the room; announce the list if the user just came
    online there (another tab of someone already online is no news). Returns who is
    online now. One store call (one Redis round trip)."""
    online, arrived = await store().enter(room_id, user_id, username, channel)
    if arrived:
        await _announce(room_id=room_id)
    return online


async def room_leave(room_id: int, user_id: int, username: str, channel: str) -> None:
    # The user's other tabs keep them online: then there is nothing to announce.
    if await store().leave(room_id, user_id, username, channel):
        await _announce(room_id=room_id)


async def heartbeat(room_ids: list[int], user_id: int, username: str, channel: str) -> None:
    """Refresh the connection's entries so they outlive the TTL, and prune the dead
    (a vanished socket or process), announcing the rooms that lost someone."""
    await store().claim(user_id, channel, 2**31)  # refresh this connection's slot
    for room_id in [SITE, *room_ids]:
        await store().add(room_id, user_id, username, channel)
        if await store().prune(room_id) and room_id != SITE:
            await _announce(room_id=room_id)
