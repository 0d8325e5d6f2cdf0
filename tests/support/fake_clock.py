"""A clock the test moves: the limiter's backends take it in place of the real one."""


class FakeClock:
    """Seconds, moved on only by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
