"""How the batches that run share the fleet: stride scheduling by weight.

Each batch has a *pass*, a virtual time. The dispatcher gives the next message to the batch with
the lowest pass and moves that batch's pass on by 1/weight, so over any stretch of time where
batches A and B both have jobs due, A gets weight(A)/weight(B) times B's messages, to within one
message. The properties a user sees:

* **A new batch starts at once.** It joins at the current virtual time (the lowest pass of the
  batches already competing), so it is next in line, whatever the backlog of the others.
* **No banking.** A batch that had nothing due for a while rejoins at the current virtual time,
  not at its old pass: idling does not save up a burst that would shut the others out.
* **No starvation.** Every competing batch's pass grows only when it is served, so the lowest
  pass, and with it every batch, is served within (sum of weights / its weight) messages.

Stride scheduling was chosen over weighted round robin (bursts of `weight` messages per batch,
and integer weights only) and deficit round robin (the same fairness, with a quantum to tune):
it interleaves the batches' messages one by one, which is what a FIFO queue in front of the
workers needs for the shares to hold at the scale of a short window.
"""

import heapq
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Claimant:
    """A batch asking for messages this turn."""

    weight: float
    #: the most it may take this turn (its cap on jobs in flight, less those out)
    room: int


class FairShare:
    """The passes of the batches that compete, kept by the one dispatcher of the fleet; a new
    holder of the dispatcher's turn starts afresh (every batch at the same pass), which costs at
    most one window's worth of unfairness."""

    def __init__(self) -> None:
        self._passes: dict[str, float] = {}
        self._now = 0.0

    def plan(self, claimants: Mapping[str, Claimant], slots: int) -> list[str]:
        """Who gets each of the next `slots` messages, in order (a batch at most its `room`)."""
        self._forget_absent(claimants)
        heap = [
            (self._join(batch), batch)
            for batch, claimant in sorted(claimants.items())
            if claimant.room > 0 and claimant.weight > 0
        ]
        heapq.heapify(heap)
        given = {batch: 0 for batch in claimants}
        order: list[str] = []
        while heap and len(order) < slots:
            passed, batch = heapq.heappop(heap)
            claimant = claimants[batch]
            order.append(batch)
            given[batch] += 1
            passed += 1.0 / claimant.weight
            self._passes[batch] = passed
            if given[batch] < claimant.room:
                heapq.heappush(heap, (passed, batch))
        if heap:
            self._now = heap[0][0]
        elif self._passes:
            self._now = min(self._passes[batch] for batch in claimants if batch in self._passes)
        return order

    def _join(self, batch: str) -> float:
        """The batch's pass, brought up to the current virtual time (new or returning batches)."""
        passed = max(self._passes.get(batch, self._now), self._now)
        self._passes[batch] = passed
        return passed

    def _forget_absent(self, claimants: Mapping[str, Claimant]) -> None:
        """Batches with nothing due are forgotten: when they come back, they join at the current
        virtual time (no banking)."""
        for batch in [b for b in self._passes if b not in claimants]:
            del self._passes[batch]
