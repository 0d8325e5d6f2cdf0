"""What `resume` and `retry` do to a batch: run its jobs again.

Both only change the table (the queue of record) and wake the dispatcher, which sends the jobs in
the batch's turn: a command interrupted half-way leaves jobs due, never jobs nobody will run.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

from jobs.dispatch import Wake
from jobs.errors import ErrorClass
from jobs.records import Share
from jobs.results import Batch, ResultsTable
from jobs.states import JobState
from worker.identity import held_by_dead_local_process


def resume_batch(
    table: ResultsTable,
    batch: Batch,
    wake: Wake,
    *,
    max_attempts: int,
    max_images: int | None = None,
    max_cost: float | None = None,
    share: Share | None = None,
) -> int:
    """Run the batch again after a crash, a lost queue or a pause; returns the jobs waiting.

    Leases of workers that died are released first: expired ones, and those held by processes
    of this host that no longer run (so an interrupted embedded `run` resumes at once).
    """
    table.recover_expired_leases(
        max_attempts, batch_id=batch.id, holder_is_dead=held_by_dead_local_process
    )
    waiting = table.resume(batch.id, max_images=max_images, max_cost=max_cost, share=share)
    wake()
    return waiting


@dataclass
class RetryReport:
    """What `retry` did, and the keys it was given that it could not retry."""

    reopened: int
    #: keys named that are in the batch but have not failed (their state)
    not_failed: dict[str, JobState] = field(default_factory=dict)
    #: keys named that the batch does not have
    unknown: list[str] = field(default_factory=list)


def retry_batch(
    table: ResultsTable,
    batch: Batch,
    wake: Wake,
    *,
    classes: Sequence[ErrorClass] = (),
    keys: Sequence[str] = (),
) -> RetryReport:
    """Re-run the batch's failed jobs: all, those of `classes`, or those with `keys`."""
    report = RetryReport(0)
    if keys:
        states = table.keys_in_state(batch.id, keys)
        report.unknown = [key for key in keys if key not in states]
        report.not_failed = {k: s for k, s in states.items() if s is not JobState.failed}
    report.reopened = table.retry(batch.id, classes=classes, keys=keys)
    wake()
    return report
