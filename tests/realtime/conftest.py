"""Forcing interleavings: hold a coroutine at a named point of the delivery protocol
(rooms.realtime.checkpoints) until the test has made something else happen."""

from __future__ import annotations

import asyncio

import pytest

from rooms.realtime import checkpoints


class Pause:
    def __init__(self, name: str, when) -> None:
        self.name = name
        self.when = when
        self.reached = asyncio.Event()
        self.released = asyncio.Event()

    async def wait_reached(self, timeout: float = 5) -> None:
        async with asyncio.timeout(timeout):
            await self.reached.wait()

    def release(self) -> None:
        self.released.set()


class Pauses:
    """`pause = pauses.hold("stream.read")` arms the point: the next coroutine to reach
    it waits there until `pause.release()`. Unarmed points pass straight through."""

    def __init__(self) -> None:
        self.armed: dict[str, list[Pause]] = {}
        self.all: list[Pause] = []

    def hold(self, name: str, when=lambda **details: True) -> Pause:
        """`when(**details)` picks the arrival to hold (by default the next one)."""
        pause = Pause(name, when)
        self.armed.setdefault(name, []).append(pause)
        self.all.append(pause)
        return pause

    async def hook(self, name: str, **details) -> None:
        queue = self.armed.get(name)
        pause = next((p for p in queue or [] if p.when(**details)), None)
        if pause is None:
            return
        queue.remove(pause)
        pause.reached.set()
        await pause.released.wait()

    def release_all(self) -> None:
        for pause in self.all:
            pause.release()


@pytest.fixture
def pauses():
    controller = Pauses()
    checkpoints.install(controller.hook)
    yield controller
    controller.release_all()
    checkpoints.install(None)


@pytest.fixture(params=["memory", "redis"])
def layer(request):
    """Run the test on the in-memory channel layer and on real Redis."""
    if request.param == "redis":
        request.getfixturevalue("redis_layer")
    return request.param
