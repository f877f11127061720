"""An owner opens a room to guests from its side panel in Chromium; an old browser
client's protocol (examples/ws_text_client.py, run as a process) joins it under a name
and chats with her; she sees "Mina (guest)"."""

from __future__ import annotations

import queue
import re
import subprocess
import sys
import threading
import time

import pytest

from bench.stack import PROJECT_DIR, Stack
from tests.e2e.pages import LIVE, create_room, expect, send, sign_up

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def site(transactional_db):
    """The e2e worker with guests on (one process: the browser and the old client's
    socket share its in-memory channel layer)."""
    from tests.live.conftest import database_url_for_workers

    with Stack(1, database_url=database_url_for_workers(), env={"CHAT_GUESTS": "1"}) as stack:
        yield stack


class Client:
    """The example client as a process; its stdout lines arrive through a thread."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(PROJECT_DIR / "examples" / "ws_text_client.py"), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def type(self, line: str) -> None:
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def wait_for_line(self, pattern: str, within: float = 15) -> str:
        seen = []
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                continue
            seen.append(line)
            if re.search(pattern, line):
                return line
        raise AssertionError(f"no line like {pattern!r}; got {seen}")

    def finish(self) -> int:
        self.process.stdin.close()
        return self.process.wait(timeout=15)


def test_an_owner_opens_a_room_to_guests_and_chats_with_one(new_page, base_url):
    alice = new_page()
    sign_up(alice, "alice")
    create_room(alice, "Lobby")
    alice.get_by_label("Open to guests").check()
    alice.get_by_role("button", name="Save").click()
    expect(alice.get_by_role("log").get_by_text("opened the room to guests")).to_be_visible(
        timeout=LIVE
    )

    url = base_url.replace("http://", "ws://") + "/ws/compat/"
    mina = Client(url, "Mina", "Lobby")
    try:
        mina.wait_for_line(r"^\* ~Mina joined Lobby")
        mina.type("hello from an old client")
        log = alice.get_by_role("log")
        expect(log.get_by_text("hello from an old client")).to_be_visible(timeout=LIVE)
        expect(log.get_by_text("Mina (guest)").first).to_be_visible(timeout=LIVE)
        send(alice, "welcome, Mina")
        mina.wait_for_line(r"alice: welcome, Mina$")
    finally:
        assert mina.finish() == 0
