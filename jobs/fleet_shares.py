"""Each batch's share of the fleet right now, as `status` shows it, read the way the dispatcher
shares (jobs.dispatch, jobs.fair_share).

The dispatcher gives the calls to the batches that run and have jobs due, in proportion to their
weights. `status` counts a batch as sharing while it has work due *or out* (messages sent and
unclaimed, jobs running): a batch whose last jobs are in the workers' hands still holds its part
of the fleet until they return, and leaving it out would show the others a share they do not
have yet. A paused or cancelled batch shares nothing (its messages out are refused).

The reads are the dispatcher's own (`contenders`, `outstanding`): partial indexes as small as
the jobs due and out, so the cost does not grow with the jobs a batch has finished. They are
read once per `status`, for all the batches it shows.

A cap on jobs in flight is shown beside the share rather than folded into it: how far a cap
holds a batch below its share depends on how long the provider takes per call, which the table
does not know; the pace `status` measures shows it.
"""

import math
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, select

from jobs.due_jobs import contenders, outstanding
from jobs.records import Batch
from jobs.schema import batches_table
from jobs.states import BatchState


@dataclass(frozen=True)
class FleetShare:
    """A batch's part of the fleet right now."""

    #: its weight over the sum of the weights of the batches sharing; 0 when it is not sharing
    fraction: float
    #: the calls per second its share of the provider's limit allows (None: no limit)
    calls_per_s: float | None

    def eta_s(self, jobs_left: int) -> float | None:
        """Seconds to run `jobs_left` at this share of the limit, if the share held; None when
        there is no limit, no share, or nothing left."""
        if not self.calls_per_s or not jobs_left:
            return None
        return jobs_left / self.calls_per_s


@dataclass(frozen=True)
class FleetShares:
    """Who shares the fleet right now, by weight, and each batch's jobs out."""

    #: the weight of every batch that runs and has work due or out
    weights: dict[str, float]
    #: jobs sent or running, per batch (what a cap on jobs in flight counts; any state: a paused
    #: batch's running jobs finish)
    in_flight: dict[str, int]
    #: the fleet's calls per second over all its gateways (infinite without a limit)
    fleet_calls_per_s: float = math.inf

    @classmethod
    def read(cls, engine: Engine, now: datetime, fleet_calls_per_s: float) -> "FleetShares":
        with engine.connect() as conn:
            due = {c.id: c.weight for c in contenders(conn, now)}
            out = outstanding(conn)
            in_flight = {b: out.of(b) for b in set(out.unclaimed) | set(out.leased)}
            only_out = sorted(b for b in in_flight if b not in due)
            weights = due | _active_weights(conn, only_out)
        return cls(weights, in_flight, fleet_calls_per_s)

    def of(self, batch: Batch) -> FleetShare:
        weight = self.weights.get(batch.id, 0.0) if batch.state is BatchState.active else 0.0
        total = sum(w for w in self.weights.values() if w > 0)
        if weight <= 0 or total <= 0:
            return FleetShare(0.0, None)
        fraction = weight / total
        limited = math.isfinite(self.fleet_calls_per_s)
        return FleetShare(fraction, fraction * self.fleet_calls_per_s if limited else None)


def _active_weights(conn: Connection, ids: list[str]) -> dict[str, float]:
    """The weights of those of `ids` that run (a batch with only work out)."""
    if not ids:
        return {}
    query = select(batches_table.c.id, batches_table.c.weight).where(
        batches_table.c.id.in_(ids), batches_table.c.state == BatchState.active.value
    )
    return {batch: float(weight) for batch, weight in conn.execute(query)}
