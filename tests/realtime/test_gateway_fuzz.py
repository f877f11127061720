"""Property-based fuzz of the TCP gateway (rooms.realtime.gateway), in process.

One gateway and one connected client per test, in text mode and in JSON mode; every
Hypothesis example sends a handful of hostile lines (arbitrary JSON, lone surrogates as
escapes and as raw bytes on the wire, NUL, JSON nested thousands deep, fields of the
wrong type, lines over the 16 KiB limit, empty lines) mixed with valid messages, on the
same connection. After each example: every line got at most one reply (an error line,
or the echo of a stored message), a line known to be bad got its error line, nothing
was stored from a bad line, and a real message sent afterwards still comes back. At the
end the client leaves and the user is offline again.

The Hypothesis part of those two tests is a @given function the test defines and calls,
each example run in the test's own event loop (asyncio.Runner): the connection outlives
the examples, and the last checks (offline, nothing logged) are the test's assertions.
If an example loses the connection, every later one fails saying which lines did it.

Then plain examples: a first line the input checks refuse is one clear line and the
door closes; a join object with no newline after it, followed at once by a message. And
the first line fuzzed (a connection per example, as a refused one is closed): any
object either joins or gets one line before the door closes, never a server fault.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import re
import uuid
from dataclasses import dataclass

import hypothesis
import pytest
from channels.db import database_sync_to_async
from hypothesis import HealthCheck, given
from hypothesis import strategies as st

from rooms import services
from rooms.models import Message
from rooms.realtime import presence
from rooms.realtime.gateway import Gateway
from rooms.realtime.gateway.protocol import LINE_MAX_BYTES
from tests.conftest import token_for
from tests.strategies import json_values

pytestmark = pytest.mark.django_db(transaction=True)

FUZZ_SETTINGS = hypothesis.settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
REPLY_WAIT = 10.0  # for the probe's echo: a live connection answers in milliseconds
QUIET = 0.1  # after the probe's echo, how long to listen for replies that should not come
TEXT_MESSAGE = re.compile(r"^\[\d\d:\d\d\] alice: (.*)$")
SERVER_FAULT = re.compile(r"The server had a problem|cannot reach its database")

# --- What a line is expected to get -------------------------------------------------------

BAD = "bad"  # exactly one error line, nothing stored
GOOD = "good"  # stored: its echo comes back
SKIP = "skip"  # an empty line: no reply at all
ANY = "any"  # at most one reply of either kind (arbitrary text that may well be fine)
REPEAT = "repeat"  # JSON mode: a stored line again, same client_id: the original, to us


@dataclass(frozen=True)
class Line:
    """One line to send (without its newline). `data` None: a valid message made up when
    it is sent (a fresh client_id each time), or for REPEAT one sent before."""

    kind: str
    data: bytes | None = None

    def __repr__(self) -> str:
        if self.data is None:
            return f"Line({self.kind})"
        shown = self.data if len(self.data) <= 80 else self.data[:60] + b"..."
        return f"Line({self.kind}, {shown!r}, {len(self.data)} bytes)"


def wire_bytes(text: str) -> bytes:
    """A str as it goes on the wire: one line, lone surrogates as their raw (invalid
    UTF-8) bytes."""
    return text.replace("\n", " ").encode("utf-8", "surrogatepass")


def not_a_command(text: str) -> str:
    """Slash commands (/topic, /leave ...) act on the room: not what is fuzzed here."""
    return "x" + text if text.lstrip().startswith("/") else text


def unstorable(text: str) -> bool:
    return bool(re.search("[\x00\ud800-\udfff]", text))


SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
HOSTILE_CHARS = st.one_of(
    st.characters(),
    SURROGATES,
    st.sampled_from(
        ["\x00", "\r", "\t", "\x1b", "\x7f", "\x85", "\u2028", "\ufeff", " ", "\u3000"]
        + ["{", "}", "[", "]", '"', "\\", "/", ":", ","]
    ),
)
HOSTILE_TEXT = st.text(HOSTILE_CHARS, max_size=40)
JSON_VALUES = json_values()
NOT_STRINGS = JSON_VALUES.filter(lambda value: not isinstance(value, str))

# --- Lines hostile in either mode ---------------------------------------------------------

RAW_SURROGATE = st.builds(
    lambda before, surrogate, after: Line(BAD, wire_bytes(before + surrogate + after)),
    HOSTILE_TEXT,
    SURROGATES,
    HOSTILE_TEXT,
)
WITH_NUL = st.builds(
    lambda before, after: Line(BAD, wire_bytes(before + "\x00" + after)),
    HOSTILE_TEXT,
    HOSTILE_TEXT,
)
NOT_UTF8 = st.builds(
    lambda before, bad, after: Line(BAD, (before + bad + after).replace(b"\n", b" ")),
    st.binary(max_size=20),
    # Bytes that are invalid UTF-8 wherever they stand (a lone continuation byte is
    # not: after a lead byte in `before` it completes a character).
    st.sampled_from([b"\xff", b"\xfe", b"\xc0\xaf", b"\xf8\x88\x80\x80\x80"]),
    st.binary(max_size=20),
)
TOO_LONG = st.builds(
    lambda size, filler: Line(BAD, (filler * size)[:size]),
    st.integers(min_value=LINE_MAX_BYTES + 1, max_value=3 * LINE_MAX_BYTES),
    st.sampled_from([b"x", b" ", b"[", b"\xff", b'{"body": "', "\u00e9".encode()]),
)
EMPTY = st.sampled_from([b"", b" ", b"\t", b"\r", b"  \t \r"]).map(lambda data: Line(SKIP, data))
VALID = st.just(Line(GOOD))
EITHER_MODE = [RAW_SURROGATE, WITH_NUL, NOT_UTF8, TOO_LONG, EMPTY, VALID]

# --- Text mode: the raw line is the body --------------------------------------------------


def text_line(text: str) -> Line:
    text = not_a_command(text.replace("\n", " "))
    return Line(BAD if unstorable(text) else ANY, wire_bytes(text))


TEXT_LINES = st.one_of(
    *EITHER_MODE,
    VALID,
    HOSTILE_TEXT.map(text_line),
    # JSON is just text here: even with escapes of surrogates in it, it is a fine body.
    JSON_VALUES.map(lambda value: Line(GOOD, json.dumps(value).encode())),
    st.sampled_from([r'{"body": "\ud800"}', r'"\u0000"', r'{"\udfff": 1}']).map(
        lambda text: Line(GOOD, text.encode())
    ),
    # Brackets by the thousand: a body, as long as it is within 4,000 characters.
    st.integers(min_value=1, max_value=6000).map(
        lambda n: Line(GOOD if n <= 4000 else BAD, b"[" * n)
    ),
)

# --- JSON mode: {"body": ..., "client_id": ..., "reply_to": ...} -------------------------


def json_value_line(value, ascii_only: bool) -> Line:
    """Any JSON value: only an object with a "body" can be a message."""
    data = wire_bytes(json.dumps(value, ensure_ascii=ascii_only))
    return Line(ANY if isinstance(value, dict) and "body" in value else BAD, data)


def raw_text_line(text: str) -> Line:
    data = wire_bytes(text)
    if not data.strip():
        return Line(SKIP, data)
    try:
        value = json.loads(data.decode())
    except (ValueError, RecursionError):
        return Line(BAD, data)
    return Line(ANY if isinstance(value, dict) else BAD, data)


def message_line(body: str, client_id: str | None, ascii_only: bool) -> Line:
    body = not_a_command(body)
    fields = {"body": body} if client_id is None else {"body": body, "client_id": client_id}
    data = wire_bytes(json.dumps(fields, ensure_ascii=ascii_only))
    hostile = unstorable(body) or (client_id is not None and unstorable(client_id))
    return Line(BAD if hostile else ANY, data)


ESCAPES = st.sampled_from(
    [
        (BAD, r'{"body": "a\ud800b"}'),
        (BAD, r'{"body": "\udfff"}'),
        (BAD, r'{"body": "\ude00\ud83d"}'),  # a pair the wrong way round
        (BAD, r'{"body": "\u0000"}'),
        (BAD, r'{"body": "ok", "client_id": "\udc00"}'),
        (BAD, r'{"body": "ok", "reply_to": "\ud800"}'),
        (BAD, r'{"\ud800": 1, "body": "ok"}'),
        (BAD, r'{"body": "ok", "x": {"y": ["\u0000"]}}'),
        (BAD, r'["\ud800"]'),
        (BAD, r'"\ud800"'),
        (GOOD, r'{"body": "\ud83d\ude00"}'),  # a proper pair is an emoji
        (GOOD, r'{"body": "tab\there \\ud800 is text"}'),
    ]
).map(lambda case: Line(case[0], case[1].encode()))
SURROGATE_BODIES = st.builds(
    lambda before, surrogate, ascii_only: Line(
        BAD, wire_bytes(json.dumps({"body": before + surrogate}, ensure_ascii=ascii_only))
    ),
    HOSTILE_TEXT,
    SURROGATES,
    st.booleans(),
)


def deep(n: int, shape: str) -> Line:
    if shape == "open":
        return Line(BAD, b"[" * n)
    if shape == "lists":
        return Line(BAD, b"[" * n + b"]" * n)
    if shape == "objects":
        return Line(BAD, b'{"a":' * n + b"1" + b"}" * n)
    # Inside a message: the object is level 1, so 31 lists are the most allowed (32).
    data = b'{"body": "ok", "x": ' + b"[" * n + b"]" * n + b"}"
    return Line(GOOD if n <= 31 else BAD, data)


DEEP = st.builds(
    deep,
    st.one_of(st.integers(min_value=33, max_value=5000), st.sampled_from([30, 31, 32, 33])),
    st.sampled_from(["open", "lists", "objects", "message"]),
)
WRONG_TYPES = st.one_of(
    NOT_STRINGS.map(lambda body: {"body": body}),
    st.one_of(
        NOT_STRINGS.filter(lambda value: value is not None),
        st.just(""),
        st.text(min_size=65, max_size=80),
    ).map(lambda client_id: {"body": "ok", "client_id": client_id}),
    st.one_of(
        st.text(max_size=10),
        st.floats(allow_nan=False),
        st.booleans(),
        st.integers(max_value=0),
        st.integers(min_value=10**9, max_value=2**70),  # names no message (yet)
        st.lists(st.integers(), max_size=2),
        st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    ).map(lambda reply_to: {"body": "ok", "reply_to": reply_to}),
    st.text(min_size=4001, max_size=4100, alphabet="ab").map(lambda body: {"body": body}),
).map(lambda fields: Line(BAD, json.dumps(fields).encode()))

JSON_LINES = st.one_of(
    *EITHER_MODE,
    VALID,
    st.just(Line(REPEAT)),
    st.builds(json_value_line, JSON_VALUES, st.booleans()),
    HOSTILE_TEXT.map(raw_text_line),
    st.builds(
        message_line,
        HOSTILE_TEXT,
        st.none() | st.text(HOSTILE_CHARS, min_size=1, max_size=64),
        st.booleans(),
    ),
    ESCAPES,
    SURROGATE_BODIES,
    DEEP,
    WRONG_TYPES,
)
# Where to cut what an example sends into separate writes (fractions of its length), so
# lines also arrive in pieces, over-long ones included.
CUTS = st.lists(st.floats(min_value=0, max_value=1), max_size=3)


@database_sync_to_async
def message_count() -> int:
    return Message.objects.count()


class Session:
    """The gateway and the one client of a test, kept across Hypothesis examples."""

    def __init__(self, user, room_id: int, token: str, *, json_mode: bool) -> None:
        self.user = user
        self.room_id = room_id
        self.token = token
        self.json_mode = json_mode
        self.gateway = Gateway()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.numbers = itertools.count(1)
        self.stored: list[bytes] = []  # JSON mode: lines stored, to send again (REPEAT)
        self.last_seq = 0
        self.seen: set[int] = set()  # JSON mode: the seqs of the messages received
        self.lost: str | None = None  # how the connection was lost, once it was
        self.examples = 0

    async def open(self) -> None:
        _, port = await self.gateway.start("127.0.0.1", 0)
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port, limit=2**20)
        first = {"token": self.token, "room": self.room_id, "json": self.json_mode}
        self.writer.write(json.dumps(first).encode() + b"\n")
        await self.writer.drain()
        joined = await self.next_reply(REPLY_WAIT)
        if self.json_mode:
            assert joined["type"] == "joined" and joined["messages"] == [], joined
            self.last_seq = joined["last_seq"]
        else:
            assert joined.startswith("* alice joined General"), joined

    async def next_reply(self, wait: float):
        """The next line (JSON mode: frame) other than a presence list; None if none
        comes within `wait` seconds; AssertionError if the connection closed."""
        while True:
            try:
                async with asyncio.timeout(wait):
                    raw = await self.reader.readline()
            except TimeoutError:
                return None
            if not raw.endswith(b"\n"):
                raise AssertionError(f"the gateway closed the connection (last bytes {raw!r})")
            text = raw.decode().removesuffix("\n")
            if not self.json_mode:
                return text
            frame = json.loads(text)
            if frame.get("type") != "presence":
                return frame

    def concrete(self, line: Line) -> tuple[str, bytes]:
        if line.kind == REPEAT and self.stored:
            return REPEAT, self.stored[-1]
        if line.data is not None:
            return line.kind, line.data
        body = f"fine {next(self.numbers)}"
        if not self.json_mode:
            return GOOD, body.encode()
        data = json.dumps({"body": body, "client_id": uuid.uuid4().hex}).encode()
        self.stored.append(data)
        return GOOD, data

    def classify(self, reply, probe: str) -> tuple[str, int | None]:
        """("error" | "new" | "repeat" | "probe" | "other", seq)."""
        if not self.json_mode:
            if reply.startswith("! "):
                return "error", None
            match = TEXT_MESSAGE.match(reply)
            if match is None:
                return "other", None
            return ("probe" if match.group(1) == probe else "new"), None
        if reply.get("type") == "error":
            ok = isinstance(reply.get("code"), str) and isinstance(reply.get("detail"), str)
            return ("error" if ok else "other"), None
        if reply.get("type") == "message":
            message = reply["message"]
            if message["body"] == probe and message["author"] == "alice":
                return "probe", message["seq"]
            # The first frame of a seq is the new message; any later one, a repeat. (A
            # repeat may overtake the echo of its original: both say the same.)
            if message["seq"] in self.seen:
                return "repeat", message["seq"]
            self.seen.add(message["seq"])
            return "new", message["seq"]
        return "other", None

    async def exchange(self, lines: list[Line], cuts: list[float]) -> None:
        """Send one example's lines and a probe message, then check every reply."""
        if self.lost is not None:
            raise AssertionError(f"the connection was lost in an earlier example: {self.lost}")
        self.examples += 1
        sent = [self.concrete(line) for line in lines]
        probe = f"probe {next(self.numbers)}"
        probe_line = json.dumps({"body": probe}) if self.json_mode else probe
        payload = b"".join(data + b"\n" for _, data in sent) + probe_line.encode() + b"\n"
        before = await message_count()
        try:
            await self._write(payload, cuts)
            replies, probe_seq = [], None
            while probe_seq is None:
                reply = await self.next_reply(REPLY_WAIT)
                assert reply is not None, "no echo of the probe message"
                kind, seq = self.classify(reply, probe)
                if kind == "probe":
                    probe_seq = seq or 0
                    if seq is not None:
                        self.seen.add(seq)
                else:
                    replies.append((kind, seq, reply))
            # Every answer to the lines before the probe was queued before its echo.
            while (reply := await self.next_reply(QUIET)) is not None:
                replies.append((*self.classify(reply, probe), reply))
        except (AssertionError, ConnectionError, OSError) as exc:
            self.lost = f"{exc!r} after sending {sent!r}"
            raise
        after = await message_count()
        self._check(sent, replies, probe_seq, after - before)

    async def _write(self, payload: bytes, cuts: list[float]) -> None:
        points = sorted({int(cut * len(payload)) for cut in cuts} | {0, len(payload)})
        for start, end in itertools.pairwise(points):
            self.writer.write(payload[start:end])
            await self.writer.drain()
            await asyncio.sleep(0.002)  # let the gateway read this piece on its own

    def _check(self, sent, replies, probe_seq, stored: int) -> None:
        counts = {kind: sum(1 for k, _ in sent if k == kind) for kind in (BAD, GOOD, ANY, REPEAT)}
        errors = [reply for kind, _, reply in replies if kind == "error"]
        new = [seq for kind, seq, _ in replies if kind == "new"]
        repeats = [reply for kind, _, reply in replies if kind == "repeat"]
        others = [reply for kind, _, reply in replies if kind == "other"]
        first_new_seq = self.last_seq + 1
        if self.json_mode:
            self.last_seq = probe_seq
        report = f"sent {sent!r}\nreplies {[reply for *_, reply in replies]!r}"
        assert not others, f"replies that are neither errors nor messages: {others}\n{report}"
        faults = [
            e for e in errors if SERVER_FAULT.search(e if isinstance(e, str) else e["detail"])
        ]
        assert not faults, f"a line made the server fail: {faults}\n{report}"
        answered = len(errors) + len(new) + len(repeats)
        assert answered <= counts[BAD] + counts[GOOD] + counts[ANY] + counts[REPEAT], (
            f"more replies than lines\n{report}"
        )
        assert counts[BAD] <= len(errors) <= counts[BAD] + counts[ANY], report
        assert counts[GOOD] <= len(new) <= counts[GOOD] + counts[ANY], report
        assert counts[REPEAT] <= len(repeats) <= counts[REPEAT] + counts[ANY], report
        # Stored: exactly what was echoed as new, and the probe.
        assert stored == len(new) + 1, f"{stored} stored, {len(new)} new echoes\n{report}"
        if self.json_mode:
            # Each once, no gaps, the probe last; in seq order (a repeat answered to the
            # sender alone may overtake the echo of its original).
            expected = list(range(first_new_seq, first_new_seq + len(new) + 1))
            assert sorted([*new, probe_seq]) == expected, report
            if not repeats:
                assert [*new, probe_seq] == expected, report

    async def close(self) -> tuple[list[str], int]:
        """Close the client; wait (up to 3 s) for the gateway to forget it. Returns who
        is online on the site and how many connections the user still has there."""
        with contextlib.suppress(Exception):
            self.writer.close()
            async with asyncio.timeout(5):
                await self.writer.wait_closed()
        store = presence.store()
        try:
            async with asyncio.timeout(3):
                while True:
                    online = await store.online(presence.SITE)
                    sockets = await store.sockets_of(presence.SITE, self.user.pk)
                    if self.user.username not in online and sockets == 0:
                        break
                    await asyncio.sleep(0.02)
        except TimeoutError:
            pass
        await self.gateway.stop()
        return online, sockets


def server_problems(caplog) -> list[str]:
    return [
        f"{record.name}: {record.getMessage()}"
        for record in caplog.records
        if record.levelno >= logging.ERROR or record.exc_info
    ]


@contextlib.contextmanager
def one_connection(user, room, *, json_mode: bool, caplog):
    """(runner, session): the test's event loop and its client, joined to `room`. Once
    the block is done: the client closes, the user is offline, nothing was logged."""
    session = Session(user, room.id, token_for(user), json_mode=json_mode)
    with asyncio.Runner() as runner:
        try:
            runner.run(session.open())
            yield runner, session
        finally:
            online, sockets = runner.run(session.close())
    assert session.examples >= 10
    assert user.username not in online and sockets == 0, (online, sockets)
    assert server_problems(caplog) == []


def test_text_mode_survives_every_hostile_line(alice, room, settings, caplog):
    settings.CHAT_SEND_BURST = 100_000  # the lines are fuzzed, not the rate limit
    with one_connection(alice, room, json_mode=False, caplog=caplog) as (runner, session):

        @FUZZ_SETTINGS
        @given(lines=st.lists(TEXT_LINES, max_size=10), cuts=CUTS)
        def text_lines(lines, cuts):
            runner.run(session.exchange(lines, cuts))

        text_lines()


def test_json_mode_survives_every_hostile_line(alice, room, settings, caplog):
    settings.CHAT_SEND_BURST = 100_000
    with one_connection(alice, room, json_mode=True, caplog=caplog) as (runner, session):

        @FUZZ_SETTINGS
        @given(lines=st.lists(JSON_LINES, max_size=10), cuts=CUTS)
        def json_lines(lines, cuts):
            runner.run(session.exchange(lines, cuts))

        json_lines()


# --- Plain examples: the first line -------------------------------------------------------


@pytest.fixture
async def gateway_port():
    gateway = Gateway()
    _, port = await gateway.start("127.0.0.1", 0)
    yield port
    await gateway.stop()


async def answer_to(port: int, data: bytes) -> list[bytes]:
    """Everything the gateway says to `data` until it closes the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**20)
    try:
        writer.write(data)
        await writer.drain()
        async with asyncio.timeout(10):
            return (await reader.read()).splitlines()
    finally:
        writer.close()


async def test_a_first_line_the_input_checks_refuse_is_one_clear_line_then_the_door_closes(
    alice, room, gateway_port, caplog
):
    token = await database_sync_to_async(token_for)(alice)
    start = f'{{"token": "{token}", "room": {room.id}'
    refused = re.compile(rb"^! Refused: .*(NUL character|unpaired surrogate|nested deeper)")
    cases = [
        (start + r', "x": "\u0000"}' + "\n").encode(),
        (start + r', "x": "\ud800"}' + "\n").encode(),
        (start + r', "x": ["\udfff"], "json": true}' + "\n").encode(),
        (f'{{"token": "{token}\\ud800", "room": {room.id}}}\n').encode(),
        (f'{{"token": "{token}", "room": "Gen\\u0000eral"}}\n').encode(),
        (start + ', "x": "\ud800"}\n').encode("utf-8", "surrogatepass"),  # raw bytes
        (start + ', "x": ' + "[" * 5000 + "]" * 5000 + "}\n").encode(),
        (start + ', "x": ' + "[" * 40 + "]" * 40 + "}\n").encode(),
        (start + ', "x": ' + '{"a":' * 40 + "1" + "}" * 40 + "}\n").encode(),
        ("[" * 5000 + "]" * 5000 + "\n").encode(),
        # The refusal names the key; a line break in it must not break the line.
        (start + r', "a\nb": "\u0000"}' + "\n").encode(),
        (start + r', "a\r\nb\rc": ["\udc00"]}' + "\n").encode(),
    ]
    for first in cases:
        answer = await answer_to(gateway_port, first)
        assert len(answer) == 1 and refused.match(answer[0]), (first[:80], answer)
    # Not refusals of the checks, but one line all the same.
    for first in (b"[" * 5000 + b"\n", start.encode() + b', "x": ' + b"[" * 5000 + b"\n"):
        answer = await answer_to(gateway_port, first)
        assert len(answer) == 1 and answer[0].startswith(b"! "), (first[:80], answer)
    assert await message_count() == 0
    assert server_problems(caplog) == []


@pytest.mark.parametrize("json_mode", [False, True], ids=["text", "json"])
async def test_a_join_object_with_no_newline_then_a_message_in_the_same_write(
    alice, room, gateway_port, json_mode, caplog
):
    token = await database_sync_to_async(token_for)(alice)
    first = {"token": token, "room": room.id, "json": json_mode}
    message = json.dumps({"body": "hello", "client_id": "c1"}) if json_mode else "hello"
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway_port)
    try:
        writer.write(json.dumps(first).encode() + message.encode() + b"\n")
        await writer.drain()
        lines = []
        async with asyncio.timeout(10):
            while len(lines) < 2:
                line = (await reader.readline()).decode()
                assert line.endswith("\n"), lines
                if not (json_mode and json.loads(line)["type"] == "presence"):
                    lines.append(line.removesuffix("\n"))
        if json_mode:
            joined, posted = (json.loads(line) for line in lines)
            assert joined["type"] == "joined" and joined["room"] == room.id
            assert posted["type"] == "message"
            assert posted["message"]["body"] == "hello"
            assert posted["message"]["client_id"] == "c1"
        else:
            assert lines[0].startswith(f"* alice joined General (room {room.id})")
            assert TEXT_MESSAGE.match(lines[1]).group(1) == "hello", lines
    finally:
        writer.close()
    bodies = await database_sync_to_async(lambda: list(Message.objects.values_list("body")))()
    assert bodies == [("hello",)]
    assert server_problems(caplog) == []


# --- Any first object: joined, or one line and the door closes ----------------------------

VALID_TOKEN, THE_ROOM = "<token>", "<room>"  # replaced by the real ones when sent


def mostly(fine, *hostile):
    """`fine` three times in four: most objects get past one field to the next."""
    return st.sampled_from([True, True, True, False]).flatmap(
        lambda ok: fine if ok else st.one_of(*hostile)
    )


BIG_INTS = st.integers(min_value=-(2**70), max_value=2**70)
COUNTS = mostly(st.integers(min_value=0, max_value=300), BIG_INTS, JSON_VALUES)
FIRST_OBJECTS = st.builds(
    lambda fields, extra: {**extra, **fields},
    st.fixed_dictionaries(
        {
            "token": mostly(st.just(VALID_TOKEN), HOSTILE_TEXT, JSON_VALUES),
            "room": mostly(
                st.sampled_from([THE_ROOM, "General", "general", "GENERAL"]),
                BIG_INTS,
                HOSTILE_TEXT,
                JSON_VALUES,
            ),
        },
        optional={
            "json": mostly(st.booleans(), JSON_VALUES),
            "after": COUNTS,
            "history": COUNTS,
        },
    ),
    st.dictionaries(HOSTILE_TEXT, HOSTILE_TEXT | JSON_VALUES, max_size=3),
)


@pytest.fixture
def three_messages(alice, room):
    for n in (1, 2, 3):
        services.message_post(room=room, author=alice, body=f"earlier {n}")
    return room


@hypothesis.settings(FUZZ_SETTINGS, max_examples=60)
@given(first=FIRST_OBJECTS, ascii_only=st.booleans(), newline=st.booleans())
async def test_any_first_object_joins_or_is_one_line_then_the_door_closes(
    alice, three_messages, gateway_port, caplog, first, ascii_only, newline
):
    room = three_messages
    token = await database_sync_to_async(token_for)(alice)
    real = {VALID_TOKEN: token, THE_ROOM: room.id}
    first = {
        key: real.get(value, value) if isinstance(value, str) else value
        for key, value in first.items()
    }
    data = wire_bytes(json.dumps(first, ensure_ascii=ascii_only)) + b"\n" * newline
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway_port, limit=2**20)
    try:
        writer.write(data)
        writer.write_eof()  # joined or not, the gateway then says goodbye and closes
        async with asyncio.timeout(10):
            answer = (await reader.read()).decode().split("\n")
    finally:
        writer.close()
    assert answer.pop() == "", answer  # every line ends with a newline
    head = answer[0]
    frame = json.loads(head) if head.startswith("{") else None
    if head.startswith("* alice joined General") or (frame and frame["type"] == "joined"):
        # Then the replay (text mode; JSON mode has it in "joined"), and presence lists.
        rest = answer[1:]
        if frame is None:
            assert len(rest) <= 3 and all(TEXT_MESSAGE.match(line) for line in rest), answer
        else:
            assert len(frame["messages"]) <= 3, answer
            assert {json.loads(line)["type"] for line in rest} <= {"presence"}, answer
    else:
        assert len(answer) == 1, answer
        if frame is None:
            assert head.startswith("! ") and len(head) > 5, answer
        else:
            assert frame["type"] == "error" and isinstance(frame["detail"], str), answer
            assert frame["code"] not in ("internal", "unavailable"), answer
        assert not SERVER_FAULT.search(head), answer
    assert server_problems(caplog) == []
