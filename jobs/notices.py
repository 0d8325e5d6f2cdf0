"""Which batches have news for the webhook, and claiming each piece of news once, fleet-wide.

A batch has news when it is paused (`batch.paused`), or when every one of its jobs is final
(`batch.completed`, whatever its state: a cancelled batch completes too). The last event claimed
is kept in `batches.notified`; a process claims an event with one conditional UPDATE that checks
the news is still true and not yet claimed, so of all the processes that see it exactly one
sends it. `resume` and `retry` clear the column (jobs.recovery), so a batch that runs again
reports its next pause or completion again.
"""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ColumnElement, Engine, and_, case, exists, not_, or_, select, update

from jobs.schema import batches_table, jobs_table
from jobs.states import TERMINAL_STATES, BatchState


class BatchEvent(StrEnum):
    """What a webhook is told about a batch."""

    #: every job of the batch is final (succeeded, failed or cancelled)
    completed = "batch.completed"
    #: the batch is paused (auth, quota, budget) until someone resumes it
    paused = "batch.paused"


_paused = batches_table.c.state == BatchState.paused.value
_has_jobs = exists().where(jobs_table.c.batch_id == batches_table.c.id)
_has_unfinished = exists().where(
    jobs_table.c.batch_id == batches_table.c.id,
    jobs_table.c.state.notin_([s.value for s in TERMINAL_STATES]),
)
#: the news a batch has now (null when it has none)
_news = case(
    (_paused, BatchEvent.paused.value),
    (and_(_has_jobs, not_(_has_unfinished)), BatchEvent.completed.value),
)


#: a batch already told it completed has no news until it pauses, or runs again (which clears
#: `notified`): ruling it out first spares reading all of a finished batch's jobs at every turn
_may_have_news = or_(
    batches_table.c.notified.is_(None),
    batches_table.c.notified != BatchEvent.completed.value,
    _paused,
)


def _not_yet(event: ColumnElement[str] | str) -> ColumnElement[bool]:
    return or_(batches_table.c.notified.is_(None), batches_table.c.notified != event)


class BatchNotices:
    """The webhook side of `jobs.results.ResultsTable`."""

    engine: Engine

    def unnotified_events(
        self, *, created_since: datetime | None = None, batch_id: str | None = None
    ) -> list[tuple[str, BatchEvent]]:
        """(batch, event) for every batch with news not yet claimed: those made since
        `created_since` (a batch older than that is history, not news), or just `batch_id`."""
        query = select(batches_table.c.id, _news).where(
            _may_have_news, _news.is_not(None), _not_yet(_news)
        )
        if created_since is not None:
            query = query.where(batches_table.c.created_at >= created_since)
        if batch_id is not None:
            query = query.where(batches_table.c.id == batch_id)
        with self.engine.connect() as conn:
            return [(batch, BatchEvent(event)) for batch, event in conn.execute(query)]

    def claim_event(self, batch_id: str, event: BatchEvent) -> bool:
        """Take the sending of `event` for the batch; False when another process took it, or
        the batch no longer has that news (resumed meanwhile)."""
        with self.engine.begin() as conn:
            claimed = conn.execute(
                update(batches_table)
                .where(batches_table.c.id == batch_id, _news == event.value, _not_yet(event.value))
                .values(notified=event.value)
            )
        return claimed.rowcount == 1
