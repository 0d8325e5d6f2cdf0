"""One dispatcher turn: top the broker's short window of messages up from the table, fairly.

The table is the queue of record (jobs.due_jobs); the broker holds only a window of job ids,
about as many as the fleet's free worker threads can take before the next turn. A turn:

1. counts the messages out and unclaimed of batches that run: the window's fill;
2. sends the due paid-for jobs first (they cost no call, and their batch may be paused);
3. shares what is left of the window among the batches that run and have jobs due, by weight
   (jobs.fair_share), each up to its cap on jobs in flight, and sends their jobs interleaved in
   that order, so the FIFO queue in front of the workers keeps the shares;
4. marks the sent jobs (after the messages: a crash in between costs duplicate messages, which
   the claim refuses, never a lost job).
"""

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine

from jobs.due_jobs import (
    Contender,
    Outstanding,
    active_unclaimed,
    contenders,
    due_of_batch,
    mark_sent,
    outstanding,
    paid_due,
)
from jobs.fair_share import Claimant, FairShare

Enqueue = Callable[[Sequence[int]], None]
#: tells the dispatcher there are new jobs due, so it sends them now rather than at its interval
Wake = Callable[[], None]
#: what the window should hold (messages out and unclaimed), given the jobs running fleet-wide
WindowSize = Callable[[int], int]


@dataclass(frozen=True)
class Dispatched:
    """What one turn sent."""

    #: messages sent for jobs to generate, per batch
    shared: Counter[str] = field(default_factory=Counter)
    #: messages sent for paid-for jobs to store
    paid: int = 0
    #: the window's fill before the turn, and its target size
    unclaimed: int = 0
    window: int = 0

    @property
    def total(self) -> int:
        return self.paid + sum(self.shared.values())


def dispatch_turn(
    engine: Engine, enqueue: Enqueue, fair: FairShare, window: WindowSize, now: datetime
) -> Dispatched:
    """Send up to a window's worth of due jobs, shared by weight; returns what was sent."""
    with engine.connect() as conn:
        counts = outstanding(conn)
        unclaimed = active_unclaimed(conn, counts)
        target = window(sum(counts.leased.values()))
        slots = target - unclaimed
        if slots <= 0:
            return Dispatched(unclaimed=unclaimed, window=target)
        paid = paid_due(conn, now, slots)
        competing = contenders(conn, now)
    order = list(paid)
    shared = _share(engine, fair, competing, counts, slots - len(paid), now)
    order += [job for _batch, job in shared]
    if not order:
        return Dispatched(unclaimed=unclaimed, window=target)
    enqueue(order)
    with engine.begin() as conn:
        mark_sent(conn, order, now)
    return Dispatched(Counter(batch for batch, _job in shared), len(paid), unclaimed, target)


def _share(
    engine: Engine,
    fair: FairShare,
    competing: Sequence[Contender],
    counts: Outstanding,
    slots: int,
    now: datetime,
) -> list[tuple[str, int]]:
    """The `slots` messages shared among the competing batches: (batch, job) in send order.

    A batch with fewer jobs due than its share leaves (and, having nothing due, is forgotten by
    the shares: no banking); the others share what it left, until the slots are filled or no
    batch has more."""
    claimants = {c.id: Claimant(c.weight, _room(c, counts, slots)) for c in competing}
    picked: list[tuple[str, int]] = []
    while slots > 0 and claimants:
        order = fair.plan(claimants, slots)
        if not order:
            break
        wanted = Counter(order)
        jobs: dict[str, list[int]] = {}
        with engine.connect() as conn:
            for batch, count in wanted.items():
                jobs[batch] = due_of_batch(conn, batch, now, count)
        for batch, count in wanted.items():
            claimant = claimants.pop(batch)
            if len(jobs[batch]) == count:
                claimants[batch] = Claimant(claimant.weight, claimant.room - count)
        taken = {batch: iter(ids) for batch, ids in jobs.items()}
        for batch in order:
            job = next(taken[batch], None)
            if job is not None:
                picked.append((batch, job))
                slots -= 1
        claimants = {b: c for b, c in claimants.items() if c.room > 0}
    return picked


def _room(contender: Contender, counts: Outstanding, slots: int) -> int:
    """How many messages the batch may get this turn: the window's free slots, or what its cap
    on jobs in flight leaves."""
    if contender.max_in_flight is None:
        return slots
    return max(contender.max_in_flight - counts.of(contender.id), 0)
