"""Waiting on a fleet: a warning within seconds when no worker answers, repeated rarely."""

from producer.fleet_watch import NO_WORKER_WARNING_S, PING_INTERVAL_S, WARNING_REPEAT_S, FleetWatch


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def watch_for(seconds: float, clock: Clock, watch: FleetWatch) -> None:
    end = clock.now + seconds
    while clock.now < end:
        watch.turn()
        clock.now += PING_INTERVAL_S


def test_no_answer_warns_within_ten_seconds_then_only_every_few_minutes() -> None:
    clock = Clock()
    warnings: list[float] = []
    watch = FleetWatch(lambda: False, warnings.append, clock)

    watch_for(10, clock, watch)
    assert len(warnings) == 1
    assert NO_WORKER_WARNING_S <= warnings[0] <= 10

    watch_for(WARNING_REPEAT_S - 10, clock, watch)
    assert len(warnings) == 1
    watch_for(20, clock, watch)
    assert len(warnings) == 2


def test_a_fleet_that_answers_is_never_warned_about() -> None:
    clock = Clock()
    warnings: list[float] = []
    watch = FleetWatch(lambda: True, warnings.append, clock)

    watch_for(WARNING_REPEAT_S * 2, clock, watch)

    assert warnings == []
