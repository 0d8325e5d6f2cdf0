"""A finished batch's counts, spend, pace and errors, kept on its row once they cannot change.

`status` counted every job of every batch it listed, each time: at ten million jobs, ten batches
of a million took 18 s, nearly all of it counting jobs that were final long ago. Once no job of a
batch is unfinished, nothing but `retry` or `resume` can change those figures, and both clear
what is kept (jobs.recovery), so they are read once and kept in `batches.final_summary`.

The figures are kept only if, in the same statement, no job of the batch is unfinished: a
`retry` that reopened jobs after they were counted leaves nothing kept.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, exists, select, update

from jobs.records import BatchProgress
from jobs.schema import batches_table, jobs_table
from jobs.states import UNFINISHED_STATES, JobState

#: (error class, failed jobs, one example message), as ResultsTable.error_summary gives them
Errors = list[tuple[str, int, str]]


class KeptSummaries:
    """The kept-figures side of `jobs.results.ResultsTable`."""

    engine: Engine

    def kept_summary(self, batch_id: str) -> tuple[BatchProgress, Errors] | None:
        """The figures kept for the finished batch; None while it has none kept."""
        query = select(batches_table.c.final_summary).where(batches_table.c.id == batch_id)
        with self.engine.connect() as conn:
            kept = conn.execute(query).scalar_one_or_none()
        return None if kept is None else _loaded(kept)

    def keep_summary(self, batch_id: str, progress: BatchProgress, errors: Errors) -> bool:
        """Keep the batch's figures if none of its jobs is unfinished; returns whether kept."""
        unfinished = exists().where(
            and_(jobs_table.c.batch_id == batch_id, jobs_table.c.state.in_(UNFINISHED_STATES))
        )
        with self.engine.begin() as conn:
            kept = conn.execute(
                update(batches_table)
                .where(batches_table.c.id == batch_id, ~unfinished)
                .values(final_summary=_dumped(progress, errors))
            )
        return bool(kept.rowcount)


def _dumped(progress: BatchProgress, errors: Errors) -> dict[str, Any]:
    return {
        "counts": {state.value: n for state, n in progress.counts.items()},
        "spend_usd": progress.spend_usd,
        "last_finished_at": _iso(progress.last_finished_at),
        "since": _iso(progress.since),
        "recent": {state.value: n for state, n in progress.recent.items()},
        "errors": [list(error) for error in errors],
        "reused": progress.reused,
        "saved_usd": progress.saved_usd,
    }


def _loaded(kept: dict[str, Any]) -> tuple[BatchProgress, Errors]:
    progress = BatchProgress(
        counts={JobState(state): n for state, n in kept["counts"].items()},
        spend_usd=kept["spend_usd"],
        last_finished_at=_moment(kept["last_finished_at"]),
        since=_moment(kept["since"]),
        recent={JobState(state): n for state, n in kept["recent"].items()},
        # kept before reuse was recorded: nothing was reused
        reused=kept.get("reused", 0),
        saved_usd=kept.get("saved_usd", 0.0),
    )
    return progress, [(cls, count, example) for cls, count, example in kept["errors"]]


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _moment(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)
