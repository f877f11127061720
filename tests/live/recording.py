"""Waiting on what a live client has received so far (frames or lines)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any


class Recording:
    """A client that records what arrives; `wait_for` re-checks a predicate each time
    something does. Subclasses set `label`, `closed`, `_changed` and `recent()`."""

    label: str
    closed: asyncio.Event
    _changed: asyncio.Event

    def recent(self) -> list[Any]:
        raise NotImplementedError

    def closed_detail(self) -> str:
        return ""

    async def wait_for(self, predicate: Callable[[], Any], *, what: str, within: float = 15):
        """The first truthy value of predicate()."""
        try:
            async with asyncio.timeout(within):
                while True:
                    result = predicate()
                    if result:
                        return result
                    if self.closed.is_set():
                        raise AssertionError(
                            f"{self.label}: closed{self.closed_detail()} while waiting for "
                            f"{what}; last: {self.recent()}"
                        )
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(
                f"{self.label}: no {what} within {within}s; last: {self.recent()}"
            ) from None
