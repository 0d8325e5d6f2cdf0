"""Dispatcher turns run straight on a results table, for the tests of what gets sent."""

from jobs.database import utcnow
from jobs.dispatch import Dispatched, dispatch_turn
from jobs.fair_share import FairShare
from jobs.results import ResultsTable

#: a window no test fills: a turn then sends everything due
UNBOUNDED = 1_000_000


def dispatched(
    table: ResultsTable, *, window: int = UNBOUNDED, fair: FairShare | None = None
) -> list[int]:
    """The jobs one dispatcher turn sends now, in the order it sends them."""
    sent: list[int] = []
    dispatch_turn(table.engine, sent.extend, fair or FairShare(), lambda _running: window, utcnow())
    return sent


def one_turn(table: ResultsTable, sent: list[int], fair: FairShare, window: int) -> Dispatched:
    """One turn of a dispatcher whose shares are `fair`, appending what it sends to `sent`."""
    return dispatch_turn(table.engine, sent.extend, fair, lambda _running: window, utcnow())
