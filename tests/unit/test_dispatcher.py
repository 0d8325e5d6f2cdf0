"""The dispatcher's loop: a turn only while holding the fleet's turn, a window sized by the
fleet's free threads and its rate limit, a wake-up that sends new jobs at once."""

import math
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import pytest

from jobs.dispatch import Enqueue
from jobs.results import ResultsTable
from tests.support.tables import loaded
from worker.dispatcher import MIN_WINDOW, Dispatcher, WindowSize
from worker.fleet_coordination import EventWakeup, LocalThreads

ON_SQLITE = pytest.mark.parametrize("table", ["sqlite"], indirect=True)


class Turn:
    """A fleet turn this test hands out or takes back."""

    def __init__(self, held: bool) -> None:
        self.held = held

    def hold(self) -> bool:
        return self.held


class Queue:
    """The broker: keeps every job id sent."""

    def __init__(self) -> None:
        self.sent: list[int] = []

    @contextmanager
    def enqueuer(self) -> Iterator[Enqueue]:
        def enqueue(ids: Sequence[int]) -> None:
            self.sent.extend(ids)

        yield enqueue


def dispatcher(
    table: ResultsTable, queue: Queue, turn: Turn, wakeup: EventWakeup, interval_s: float = 60
) -> Dispatcher:
    threads = LocalThreads(4)
    window = WindowSize(threads, fixed=None, calls_per_s=1, interval_s=interval_s)
    return Dispatcher(table, queue.enqueuer, turn, threads, wakeup, window, interval_s=interval_s)


def test_the_window_is_twice_the_free_threads_and_never_below_its_floor() -> None:
    window = WindowSize(LocalThreads(100), fixed=None, calls_per_s=10, interval_s=0.25)

    assert window(running=0) == 200
    assert window(running=90) == 20
    assert window(running=100) == MIN_WINDOW


def test_the_window_holds_what_the_rate_limit_allows_in_two_intervals() -> None:
    window = WindowSize(LocalThreads(4), fixed=None, calls_per_s=67, interval_s=0.5)

    assert window(running=4) == math.ceil(2 * 67 * 0.5)


def test_a_window_set_by_hand_is_kept() -> None:
    window = WindowSize(LocalThreads(4), fixed=500, calls_per_s=math.inf, interval_s=0.25)

    assert window(running=0) == 500


@ON_SQLITE
def test_only_the_holder_of_the_turn_dispatches(table: ResultsTable) -> None:
    ids = loaded(table, "a", "b")
    queue, turn = Queue(), Turn(held=False)
    loop = dispatcher(table, queue, turn, EventWakeup())

    assert loop.dispatch() is None
    turn.held = True
    done = loop.dispatch()

    assert done is not None
    assert done.total == 2
    assert queue.sent == ids


@ON_SQLITE
def test_a_wake_up_sends_new_jobs_without_waiting_for_the_interval(table: ResultsTable) -> None:
    queue, wakeup = Queue(), EventWakeup()
    loop = dispatcher(table, queue, Turn(held=True), wakeup, interval_s=60)
    loop.start()
    try:
        time.sleep(0.2)  # the first turn found nothing; the next is a minute away
        ids = loaded(table, "a")
        wakeup.set()
        deadline = time.monotonic() + 5
        while not queue.sent and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        wakeup.set()
        loop.stop()

    assert queue.sent == ids
