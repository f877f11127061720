"""Faults two daphne workers must survive without losing, repeating or reordering a
message: Redis restarting, PostgreSQL restarting, a worker dying (presence heals, its
channel-layer group entries expire).

Every test ends the same way: each client, across all the sockets it had to open, was
given seqs 1..N exactly once, in the same order as every other client, and every
message a client sent (retried with the same client_id until stored) is there once.

The Redis and PostgreSQL servers that these tests stop are their own, started on free
loopback ports in temporary directories; the machine's shared servers are never
stopped. Fixture finalizers stop every process started here (redis-server, postgres,
daphne), whatever the test did.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from websockets.exceptions import ConnectionClosed

from bench.redis_server import tail as _tail
from bench.stack import PROJECT_DIR, Stack, free_port, migrate
from tests.conftest import need
from tests.live.conftest import Person, database_url_for_workers, log_problems

pytestmark = [pytest.mark.live, pytest.mark.redis]

WORKER_A, WORKER_B = 0, 1
LIVE_DB = pytest.mark.django_db(transaction=True)

_LOGGED_PROBLEM = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) (ERROR|CRITICAL) ")


def log_problems_since(stack: Stack, since: datetime) -> list[str]:
    """ERROR and CRITICAL lines the workers logged at or after `since`."""
    problems = []
    for path in stack.log_paths:
        for line in Path(path).read_text(errors="replace").splitlines():
            found = _LOGGED_PROBLEM.match(line)
            if found and datetime.strptime(found[1], "%Y-%m-%d %H:%M:%S,%f") >= since:
                problems.append(f"{path.name}: {line[:300]}")
    return problems


# --- our own servers --------------------------------------------------------------------


class OwnPostgres:
    """A throwaway PostgreSQL cluster in a temporary directory, on a loopback port.
    initdb and pg_ctl run as the `postgres` OS user when we are root (PostgreSQL
    refuses to run as root), as ourselves otherwise."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        # Not pytest's tmp_path: its parents are private to root, and the server runs
        # as another user; a short path also keeps the socket path under its limit.
        self.directory = Path(tempfile.mkdtemp(prefix="chat-pg-"))
        self.data = self.directory / "data"
        self.port = free_port()
        self.log_path = self.directory / "server.log"
        self.commands_log = self.directory / "commands.log"
        self.running = False

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, program: str, *args: str, timeout: float = 60) -> None:
        command = [str(self.bin_dir / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        # Output to a file, never a pipe: the server pg_ctl starts would inherit a pipe
        # and keep subprocess.run waiting for its end.
        with open(self.commands_log, "ab") as log:
            result = subprocess.run(
                command,
                cwd=self.directory,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=timeout,
            )
        if result.returncode != 0:
            raise RuntimeError(
                f"{program} failed ({result.returncode}):\n{_tail(self.commands_log)}\n"
                f"server log:\n{_tail(self.log_path)}"
            )

    def init(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
        self._run(
            "initdb",
            *("-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8"),
            *("--no-sync", "--no-instructions"),
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.running = True  # from here on the finalizer stops it, even on a failed start
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.log_path),
                  "-w", "-t", "30", "start")  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")
        self.running = False

    def create_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')

    def remove(self) -> None:
        if self.running:
            with contextlib.suppress(Exception):
                self.stop("immediate")
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture
def own_postgres():
    initdbs = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not initdbs:
        need("PostgreSQL server binaries are not installed (/usr/lib/postgresql/*/bin)")
    if os.geteuid() == 0 and not shutil.which("runuser"):
        need("running as root without runuser to start PostgreSQL as another user")
    cluster = OwnPostgres(Path(initdbs[-1]).parent)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture
def start_stack(tmp_path):
    """start_stack(database_url=, redis_url=, prefix=, env=) -> a started two-worker
    Stack; every stack is stopped (and reaped) at teardown, before the database goes."""
    stacks: list[Stack] = []

    def start(
        *, database_url: str, redis_url: str, prefix: str, env: dict[str, str] | None = None
    ) -> Stack:
        stack = Stack(
            2,
            database_url=database_url,
            redis_url=redis_url,
            env={
                "CHANNEL_PREFIX": prefix,
                # These tests count messages, not the per-user posting limit.
                "CHAT_SEND_BURST": "100000",
                **(env or {}),
            },
            log_dir=tmp_path / f"logs-{len(stacks)}",
        )
        stacks.append(stack)
        stack.start()
        return stack

    yield start
    for stack in stacks:
        stack.stop()


# --- clients ----------------------------------------------------------------------------


class Client:
    """One user's chat client in one room, as a page behaves: when its socket dies it
    opens another (to `url`) and rejoins with `after` = the last seq it was given."""

    def __init__(self, person: Person, url: str, room: int, open_socket) -> None:
        self.person = person
        self.url = url
        self.room = room
        self.open_socket = open_socket
        self.sockets: list[Any] = []
        self.failed_connects: list[tuple[float, str]] = []  # (monotonic time, why)

    @property
    def label(self) -> str:
        return self.person.username

    @property
    def socket(self):
        return self.sockets[-1] if self.sockets else None

    @property
    def alive(self) -> bool:
        return self.socket is not None and not self.socket.closed.is_set()

    def messages(self) -> list[dict[str, Any]]:
        return [message for socket in self.sockets for message in socket.messages(self.room)]

    def seqs(self) -> list[int]:
        return [message["seq"] for message in self.messages()]

    def client_ids(self) -> list[str | None]:
        return [message["client_id"] for message in self.messages()]

    async def connect(self, within: float = 20) -> dict:
        """Open a socket and join (after the last seq seen), retrying until both work
        or `within` seconds pass."""
        deadline = time.monotonic() + within
        problem: Exception | None = None
        while time.monotonic() < deadline:
            try:
                socket = await self.open_socket(self.url, self.person, open_timeout=5)
            except (OSError, TimeoutError, ConnectionClosed) as exc:
                problem = exc
                self.failed_connects.append((time.monotonic(), repr(exc)))
            else:
                self.sockets.append(socket)
                seqs = self.seqs()
                try:
                    return await socket.join(self.room, after=seqs[-1] if seqs else 0, within=5)
                except AssertionError as exc:  # closed, or an error frame, before joined
                    problem = exc
                    self.failed_connects.append((time.monotonic(), str(exc)[:200]))
                    await socket.close()
            await asyncio.sleep(0.2)
        raise AssertionError(f"{self.label}: could not connect and join: {problem}")

    async def send(self, client_id: str, within: float = 10) -> str:
        """Send one message. Returns how it ended: "message" (stored and delivered to
        us), an error code, "closed" (the socket closed first) or "no socket" (none is
        open to send on). Fails the test if none of those happens within `within`
        seconds: a send never hangs."""
        socket = self.socket
        if socket is None or socket.closed.is_set():
            return "no socket"
        start = len(socket.frames)
        try:
            await socket.send(
                {"type": "send", "room": self.room, "body": client_id, "client_id": client_id}
            )
        except ConnectionClosed:
            return "closed"

        def outcome() -> str | None:
            for frame in socket.frames[start:]:
                if frame["type"] == "message" and frame["message"]["client_id"] == client_id:
                    return "message"
                if frame["type"] == "error" and frame.get("ref") == client_id:
                    return frame["code"]
            return "closed" if socket.closed.is_set() else None

        return await socket.wait_for(outcome, what=f"an answer to {client_id}", within=within)


async def wait_until_everyone_has(clients: list[Client], client_ids: list[str], within=20):
    wanted = set(client_ids)
    for client in clients:
        await client.socket.wait_for(
            lambda c=client: wanted <= set(c.client_ids()),
            what=f"all {len(wanted)} messages",
            within=within,
        )
    await asyncio.sleep(0.5)  # anything late (a duplicate) arrives by now


def assert_everyone_has_the_whole_history_once_in_order(
    clients: list[Client], sent: list[str]
) -> int:
    """seqs 1..N exactly once at every client, the same messages in the same order
    everywhere, and each sent client_id stored once. Returns N."""
    histories = [[(m["seq"], m["author"], m["client_id"]) for m in c.messages()] for c in clients]
    for client, history in zip(clients, histories, strict=True):
        seqs = [seq for seq, _, _ in history]
        assert seqs == list(range(1, len(seqs) + 1)), f"{client.label}: {seqs}"
    for client, history in zip(clients, histories, strict=True):
        assert history == histories[0], f"{client.label} disagrees with {clients[0].label}"
    stored = [client_id for _, _, client_id in histories[0]]
    assert sorted(stored) == sorted(sent), "stored messages are not exactly the sent ones"
    return len(stored)


async def chat(client: Client, prefix: str, count: int, sent: list[str]) -> None:
    for n in range(count):
        client_id = f"{prefix}-{n}"
        assert await client.send(client_id) == "message", client_id
        sent.append(client_id)


async def resend_missing(client: Client, client_ids: list[str], within: float = 20) -> None:
    """What a client does after reconnecting: anything it sent that its history does
    not hold yet is sent again, with the same client_id, until it is stored."""
    deadline = time.monotonic() + within
    for client_id in client_ids:
        while client_id not in client.client_ids():
            if not client.alive:
                await client.connect(within=max(deadline - time.monotonic(), 1))
                continue  # the rejoin may have brought it
            outcome = await client.send(client_id)
            if outcome != "message":
                assert time.monotonic() < deadline, f"{client_id} still not stored: {outcome}"
                await asyncio.sleep(0.3)


def unique_prefix() -> str:
    return f"chatfault{uuid.uuid4().hex[:12]}"


# --- 1. Redis restarts ------------------------------------------------------------------


@LIVE_DB
async def test_a_redis_restart_loses_nothing_and_the_workers_recover_by_themselves(
    own_redis, make_people, make_room, open_socket, start_stack
):
    people = await make_people("alice", "bob", "carol", "dave")
    room = await make_room("alice")
    stack = start_stack(
        database_url=database_url_for_workers(),
        redis_url=own_redis.url,
        prefix=unique_prefix(),
    )
    url_a, url_b = stack.ws_urls
    clients = [
        Client(person, url, room, open_socket)
        for person, url in zip(people, [url_a, url_b, url_a, url_b], strict=True)
    ]
    for client in clients:
        await client.connect()
    alice, bob = clients[0], clients[1]  # alice on worker A, bob on worker B
    sent: list[str] = []
    await asyncio.gather(chat(alice, "a", 10, sent), chat(bob, "b", 10, sent))
    await wait_until_everyone_has(clients, sent)

    # Redis dies. Both senders keep trying a little, reconnecting as a page would:
    # every attempt ends (a message, an error frame or a closed socket), none hangs.
    own_redis.stop(signal.SIGKILL)
    outcomes: dict[str, str] = {}
    for n in range(3):
        for client in (alice, bob):
            if not client.alive:
                with contextlib.suppress(AssertionError):
                    await client.connect(within=1)
            client_id = f"outage-{client.label}-{n}"
            sent.append(client_id)
            outcomes[client_id] = await client.send(client_id, within=10)
        await asyncio.sleep(0.3)
    print(f"\nsends while Redis was down: {outcomes}")
    assert set(outcomes.values()) <= {"message", "unavailable", "closed", "no socket"}
    assert all(worker.alive for worker in stack.workers), "a daphne worker died with Redis"

    own_redis.start()  # same port, empty: groups, presence and queues are gone
    up, up_wall = time.monotonic(), datetime.now()
    # Recovered when a message posted on worker A reaches a client on worker B. Clients
    # whose socket died reconnect and rejoin first, as a page does.
    probe = 0
    crossed_after = reconnected_after = None
    while crossed_after is None:
        assert time.monotonic() - up < 30, "no message crossed the workers within 30 s"
        for client in clients:
            if not client.alive:
                await client.connect(within=max(30 - (time.monotonic() - up), 1))
        if reconnected_after is None:
            reconnected_after = time.monotonic() - up
        client_id = f"probe-{probe}"
        probe += 1
        sent.append(client_id)
        await alice.send(client_id, within=5)
        with contextlib.suppress(AssertionError):
            await bob.socket.wait_for(
                lambda c=client_id: c in bob.client_ids(), what="the probe", within=2
            )
            crossed_after = time.monotonic() - up
    print(
        f"Redis back up -> every client reconnected and rejoined in {reconnected_after:.2f}s; "
        f"a message from worker A reached worker B {crossed_after:.2f}s after Redis was up "
        f"({probe} probe(s))"
    )

    # Anything not stored yet is sent again with the same client_id; then more talk.
    await resend_missing(alice, [c for c in sent if c.startswith(("outage-alice", "probe-"))])
    await resend_missing(bob, [c for c in sent if c.startswith("outage-bob")])
    await asyncio.gather(chat(alice, "after-a", 5, sent), chat(bob, "after-b", 5, sent))
    await wait_until_everyone_has(clients, sent)
    total = assert_everyone_has_the_whole_history_once_in_order(clients, sent)
    assert all(worker.alive for worker in stack.workers), "a daphne worker died"
    print(f"{total} messages, each once and in order at all {len(clients)} clients")
    # Once Redis answers, nothing fails any more: no socket refused or dropped (a
    # pooled connection left over from the old server must not cost a client).
    assert [why for c in clients for at, why in c.failed_connects if at >= up] == []
    assert all(client.alive for client in clients)
    assert log_problems_since(stack, up_wall) == []


# --- 2. PostgreSQL restarts -------------------------------------------------------------


def _make_people_and_room(env: dict[str, str], usernames: list[str]) -> tuple[list[Person], int]:
    """Users with API tokens and a public room owned by the first, written straight
    into the workers' database (not the test database) by `manage.py shell`."""
    script = (
        "import json\n"
        "from django.contrib.auth import get_user_model\n"
        "from accounts import services as accounts\n"
        "from rooms import services as rooms\n"
        f"names = {usernames!r}\n"
        "User = get_user_model()\n"
        "users = [User.objects.create_user(username=n, password='correct-horse-42')"
        " for n in names]\n"
        "tokens = [accounts.token_create(user=u, name='live')[1] for u in users]\n"
        "room = rooms.room_create(creator=users[0], name='Live').id\n"
        "print(json.dumps({'tokens': tokens, 'room': room}))\n"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    made = json.loads(result.stdout.strip().splitlines()[-1])
    people = [Person(n, t) for n, t in zip(usernames, made["tokens"], strict=True)]
    return people, made["room"]


def _api_messages(base_url: str, person: Person, room: int) -> list[dict[str, Any]]:
    request = urllib.request.Request(
        f"{base_url}/api/rooms/{room}/messages?after=0&limit=200",
        headers={"Authorization": f"Bearer {person.token}"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=10) as response:
        return json.loads(response.read())["messages"]


async def test_a_postgres_restart_answers_unavailable_and_the_retry_is_stored_once(
    own_postgres, redis_url, channel_prefix, open_socket, start_stack
):
    own_postgres.create_database("chat")
    database_url = own_postgres.url("chat")
    setup_env = Stack(1, database_url=database_url).environment()
    await asyncio.to_thread(migrate, database_url=database_url, redis_url=None)
    people, room = await asyncio.to_thread(_make_people_and_room, setup_env, ["alice", "bob"])
    stack = start_stack(database_url=database_url, redis_url=redis_url, prefix=channel_prefix)
    url_a, url_b = stack.ws_urls
    alice = Client(people[0], url_a, room, open_socket)
    bob = Client(people[1], url_b, room, open_socket)
    clients = [alice, bob]
    for client in clients:
        await client.connect()
    sent: list[str] = []
    await asyncio.gather(chat(alice, "a", 5, sent), chat(bob, "b", 5, sent))
    await wait_until_everyone_has(clients, sent)

    await asyncio.to_thread(own_postgres.stop, "fast")
    try:
        for client in clients:
            client_id = f"outage-{client.label}"
            sent.append(client_id)
            assert await client.send(client_id, within=10) == "unavailable"
            # The socket stays open and still answers.
            start = len(client.socket.frames)
            await client.socket.send({"type": "ping"})
            await client.socket.wait_for(
                lambda c=client, s=start: any(f["type"] == "pong" for f in c.socket.frames[s:]),
                what="pong during the outage",
                within=5,
            )
    finally:
        await asyncio.to_thread(own_postgres.start)
    up = time.monotonic()

    # The client's retry, with the same client_id, on the same socket.
    attempts: dict[str, list[str]] = {}
    for client in clients:
        client_id = f"outage-{client.label}"
        attempts[client_id] = []
        while True:
            outcome = await client.send(client_id, within=10)
            attempts[client_id].append(outcome)
            if outcome == "message":
                break
            assert outcome == "unavailable", attempts
            assert time.monotonic() - up < 20, f"still unavailable 20 s after restart: {attempts}"
            await asyncio.sleep(0.3)
    stored_after = time.monotonic() - up
    print(
        f"\nPostgreSQL back up -> retries stored within {stored_after:.2f}s; attempts: {attempts}"
    )
    assert all(client.alive for client in clients), "a socket closed over the outage"
    await asyncio.gather(chat(alice, "after-a", 3, sent), chat(bob, "after-b", 3, sent))
    await wait_until_everyone_has(clients, sent)
    assert_everyone_has_the_whole_history_once_in_order(clients, sent)

    # Stored once, as the API (on the other worker) and a fresh join both say.
    stored = await asyncio.to_thread(_api_messages, stack.urls[WORKER_B], alice.person, room)
    stored_ids = [m["client_id"] for m in stored]
    assert sorted(stored_ids) == sorted(sent)
    assert stored_ids.count("outage-alice") == 1 and stored_ids.count("outage-bob") == 1
    late = Client(people[0], url_b, room, open_socket)
    joined = await late.connect()
    assert [m["client_id"] for m in joined["messages"]] == stored_ids
    assert all(worker.alive for worker in stack.workers)


# --- 3. presence heals after a worker dies -----------------------------------------------


@LIVE_DB
async def test_a_dead_workers_users_drop_out_of_presence_within_the_ttl(
    redis_url, channel_prefix, make_people, make_room, open_socket, start_stack
):
    alice_person, bob_person = await make_people("alice", "bob")
    room = await make_room("bob")
    stack = start_stack(
        database_url=database_url_for_workers(),
        redis_url=redis_url,
        prefix=channel_prefix,
        env={"CHAT_PRESENCE_TTL": "6"},  # a heartbeat every 2 s
    )
    url_a, url_b = stack.ws_urls
    alice = Client(alice_person, url_a, room, open_socket)
    bob = Client(bob_person, url_b, room, open_socket)
    await alice.connect()
    joined = await bob.connect()
    assert joined["online"] == ["alice", "bob"]
    sent: list[str] = []
    await asyncio.gather(chat(alice, "a", 3, sent), chat(bob, "b", 3, sent))
    await wait_until_everyone_has([alice, bob], sent)

    seen = len(bob.socket.frames)
    killed = time.monotonic()
    stack.kill_worker(WORKER_A)

    def alice_gone():
        return any(
            f["type"] == "presence" and f["room"] == room and "alice" not in f["online"]
            for f in bob.socket.frames[seen:]
        )

    await bob.socket.wait_for(alice_gone, what="a presence frame without alice", within=15)
    elapsed = time.monotonic() - killed
    print(f"\nworker A killed -> B's socket heard alice leave after {elapsed:.2f}s (TTL 6 s)")
    assert elapsed < 15

    alice.url = url_b  # the page reconnects to a live worker and rejoins
    await alice.connect()
    await asyncio.gather(chat(alice, "after-a", 3, sent), chat(bob, "after-b", 3, sent))
    await wait_until_everyone_has([alice, bob], sent)
    assert_everyone_has_the_whole_history_once_in_order([alice, bob], sent)
    assert log_problems(stack) == []


# --- 4. a dead worker's group entries expire ---------------------------------------------


@LIVE_DB
async def test_a_dead_workers_channels_leave_the_room_group_after_the_group_expiry(
    redis_url, channel_prefix, make_people, make_room, open_socket, start_stack
):
    people = await make_people("alice", "bob", "carol")
    room = await make_room("bob")
    expiry = 5
    stack = start_stack(
        database_url=database_url_for_workers(),
        redis_url=redis_url,
        prefix=channel_prefix,
        # Live sockets refresh their groups on the presence heartbeat (every 2 s here),
        # so only the dead worker's entries outlive the expiry.
        env={"CHANNEL_GROUP_EXPIRY": str(expiry), "CHAT_PRESENCE_TTL": "6"},
    )
    url_a, url_b = stack.ws_urls
    clients = [
        Client(person, url, room, open_socket)
        for person, url in zip(people, [url_a, url_b, url_a], strict=True)
    ]
    for client in clients:
        await client.connect()
    alice, bob, carol = clients
    sent: list[str] = []
    await asyncio.gather(chat(alice, "a", 3, sent), chat(bob, "b", 3, sent))
    await wait_until_everyone_has(clients, sent)

    # The real keys (channels_redis.core.RedisChannelLayer._group_key, rooms.realtime.presence).
    group_key = f"{channel_prefix}:group:room.{room}"
    presence_key = f"{channel_prefix}:presence:room:{room}"
    store = redis.Redis.from_url(redis_url, decode_responses=True, socket_timeout=5)
    try:
        channel_of = {
            member.split("|", 2)[1]: member.split("|", 2)[2]
            for member in store.zrange(presence_key, 0, -1)
        }
        dead = {channel_of["alice"], channel_of["carol"]}
        assert dead | {channel_of["bob"]} <= set(store.zrange(group_key, 0, -1))

        killed = time.monotonic()
        stack.kill_worker(WORKER_A)
        # A broadcast right away still finds them: the expiry, not the death, drops them.
        await chat(bob, "before-expiry", 1, sent)
        assert dead <= set(store.zrange(group_key, 0, -1))
        # channels-redis drops entries older than int(now) - expiry on the next
        # group_send; a second of margin for the truncation.
        await asyncio.sleep(expiry + 1.5 - (time.monotonic() - killed))
        await chat(bob, "after-expiry", 1, sent)  # a group_send, from worker B
        members = set(store.zrange(group_key, 0, -1))
        print(f"\nroom group after {time.monotonic() - killed:.1f}s and one group_send: {members}")
        assert not dead & members, "the dead worker's channels are still in the group"
        assert channel_of["bob"] in members, "a live socket fell out of its group"
    finally:
        store.close()

    for client in (alice, carol):  # their pages reconnect to the live worker
        client.url = url_b
        await client.connect()
    await chat(bob, "after-b", 3, sent)
    await wait_until_everyone_has(clients, sent)
    assert_everyone_has_the_whole_history_once_in_order(clients, sent)
    assert log_problems(stack) == []
