"""chatclient.comings: "* bob came in" / "* bob left" from online lists, coalesced."""

from __future__ import annotations

from chatclient.comings import Comings


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_change_is_said_once_it_has_held_for_the_window():
    clock = Clock()
    comings = Comings(["alice"], me="alice", window=3, clock=clock)
    comings.update(["alice", "bob"])
    assert comings.lines() == []  # not yet: it may still flap
    assert comings.next_due() == 3
    clock.now += 3
    assert comings.lines() == ["* bob came in"]
    assert comings.next_due() is None
    comings.update(["alice"])
    clock.now += 3
    assert comings.lines() == ["* bob left"]


def test_a_flap_within_the_window_says_nothing_and_i_am_never_announced():
    clock = Clock()
    comings = Comings(["alice", "bob"], me="alice", window=3, clock=clock)
    comings.update(["bob"])  # my own other connection: not a line
    comings.update(["alice", "bob", "carol"])
    clock.now += 1
    comings.update(["alice", "bob"])  # carol went again
    comings.update(["alice"])
    clock.now += 1
    comings.update(["alice", "bob"])  # bob came straight back
    clock.now += 5
    assert comings.lines() == []


def test_at_most_one_line_per_user_per_window():
    clock = Clock()
    comings = Comings([], me="alice", window=3, clock=clock)
    comings.update(["bob"])
    clock.now += 3
    assert comings.lines() == ["* bob came in"]
    comings.update([])
    clock.now += 1
    assert comings.lines() == []
    clock.now += 2
    assert comings.lines() == ["* bob left"]
    comings.update(["bob", "carol"])
    clock.now += 3
    assert comings.lines() == ["* bob came in", "* carol came in"]
