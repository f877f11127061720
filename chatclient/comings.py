"""Lines saying who came in and who left a room, from its online lists, coalesced.

The server sends the whole list of who is online in a room (a `presence` frame)
whenever it changes; a line client wants the difference, said once. A user's first
connection appearing is "came in", their last one going is "left". A flapping
connection must not spam: each change waits WINDOW seconds and is said only if it
still holds then (a leave followed by a come-back, or the reverse, within the window
says nothing), so there is at most one line per user per window.

Used by the terminal client and by the TCP gateway's text mode; standard library only.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable

WINDOW = 3.0  # seconds a change must hold before it is said


class Comings:
    """The lines owed for a room's online lists, as they arrive. `me` (the reader)
    is never announced."""

    def __init__(
        self,
        online: Iterable[str],
        *,
        me: str | None = None,
        window: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.me = me
        self.window = WINDOW if window is None else window
        self.clock = clock
        self.shown = self._others(online)  # the list as the reader last heard it
        self.current = set(self.shown)
        self.due: dict[str, float] = {}  # user -> when to decide about them
        self.changed = asyncio.Event()

    def _others(self, online: Iterable[str]) -> set[str]:
        return {name for name in online if isinstance(name, str) and name != self.me}

    def update(self, online: Iterable[str]) -> None:
        """A new online list."""
        self.current = self._others(online)
        now = self.clock()
        for name in self.current ^ self.shown:
            self.due.setdefault(name, now + self.window)
        self.changed.set()

    def next_due(self) -> float | None:
        """Seconds until a line may be owed, or None when nothing is waiting."""
        if not self.due:
            return None
        return max(0.0, min(self.due.values()) - self.clock())

    def lines(self) -> list[str]:
        """The lines owed now, each change that still holds after its window."""
        now = self.clock()
        out = []
        for name, at in sorted(self.due.items(), key=lambda item: (item[1], item[0])):
            if at > now:
                continue
            del self.due[name]
            if name in self.current and name not in self.shown:
                self.shown.add(name)
                out.append(f"* {name} came in")
            elif name not in self.current and name in self.shown:
                self.shown.discard(name)
                out.append(f"* {name} left")
        return out

    async def announce(self, say: Callable[[str], object]) -> None:
        """Say the lines as they fall due, for ever (cancel to stop)."""
        while True:
            wait = self.next_due()
            try:
                async with asyncio.timeout(wait):
                    await self.changed.wait()
            except TimeoutError:
                pass
            self.changed.clear()
            for line in self.lines():
                say(line)
