"""`seedream-batch prune --older-than 30d`: remove old, finished batches' rows from the table.

The results table keeps every batch forever; this is how an operator makes it smaller. Only
rows go (`jobs.prune` says which and how): the images in storage stay where they are, and the
command says so. Exits 0 once the batches are pruned (or, with --dry-run, listed), 2 for a bad
--older-than, an unknown batch, or a --batch that is not finished.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

import typer
from sqlalchemy import Engine

from jobs.database import utcnow
from jobs.prune import PrunedBatch, prunable_batches, unfinished_jobs
from jobs.prune import prune as prune_old_batches
from jobs.wording import counted
from producer.cli_support import command_settings, err, existing_batch, existing_table, fail

#: what --older-than accepts: a whole number of minutes, hours, days or weeks
_AGE = re.compile(r"(?P<amount>[0-9]+)(?P<unit>[mhdw])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_AGE_FORMS = "a whole number and a unit: m (minutes), h (hours), d (days) or w (weeks), e.g. 30d"


@dataclass(frozen=True)
class Age:
    """An --older-than value: as the user wrote it (for messages) and as a span of time."""

    text: str
    span: timedelta

    def cutoff(self, now: datetime) -> datetime:
        return now - self.span


def parse_age(value: str) -> Age:
    """`30d`, `12h`, `90m`, `2w` as an Age; anything else is a usage error naming the forms."""
    found = _AGE.fullmatch(value.strip())
    if found is None:
        raise typer.BadParameter(f"{value!r} is not an age; use {_AGE_FORMS}")
    amount = int(found["amount"])
    if amount == 0:
        raise typer.BadParameter(f"{value!r} would prune batches still finishing; use {_AGE_FORMS}")
    try:
        age = Age(value.strip(), timedelta(**{_UNITS[found["unit"]]: amount}))
        age.cutoff(utcnow())
    except OverflowError:
        raise typer.BadParameter(f"{value!r} is too long ago for a date") from None
    return age


OlderThanOption = Annotated[
    Age,
    typer.Option(
        "--older-than",
        parser=parse_age,
        metavar="AGE",
        help="Prune batches whose last job finished longer ago than this: 30d, 12h, 90m, 2w.",
    ),
]


def prune(
    older_than: OlderThanOption,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List the batches that would go; delete nothing.")
    ] = False,
    batch: Annotated[
        str | None,
        typer.Option(
            "--batch", metavar="NAME", help="Only this batch (refused if it is not finished)."
        ),
    ] = None,
) -> None:
    """Remove the rows (jobs, attempts, images' rows) of finished batches older than --older-than.

    A batch is finished when none of its jobs is queued, running or generated. Its images in
    storage are kept. Exits 0 once they are pruned (or listed, with --dry-run), 2 for an
    unknown batch or one that is not finished."""
    table = existing_table(command_settings(need_credentials=False))
    if batch is not None:
        existing_batch(table, batch)
        unfinished = unfinished_jobs(table.engine, batch)
        if unfinished:
            raise fail(
                f"batch {batch} is not finished ({counted(unfinished, 'job')} queued, running "
                "or generated): not pruned; wait for it, or `seedream-batch cancel` it first"
            )
    cutoff = older_than.cutoff(utcnow())
    if dry_run:
        _list_prunable(table.engine, cutoff, batch, older_than)
        return
    pruned = prune_old_batches(table.engine, cutoff, batch_id=batch)
    _say_if_kept(batch, pruned, older_than)
    for done in pruned:
        _say(_pruned_line(done))
    jobs = counted(sum(done.jobs for done in pruned), "job")
    attempts = counted(sum(done.attempts for done in pruned), "attempt")
    batches = counted(sum(done.complete for done in pruned), "batch", "batches")
    _say(f"pruned {batches}: {jobs}, {attempts}; the images in storage are kept")


def _list_prunable(engine: Engine, cutoff: datetime, batch: str | None, older_than: Age) -> None:
    """--dry-run: what would be pruned, one line a batch, and a total; nothing is deleted."""
    found = prunable_batches(engine, cutoff, batch_id=batch)
    _say_if_kept(batch, found, older_than)
    for old in found:
        _say(
            f"would prune batch {old.name}: {counted(old.jobs, 'job')}, "
            f"last active {old.last_activity:%Y-%m-%d %H:%M} UTC"
        )
    jobs = counted(sum(old.jobs for old in found), "job")
    _say(f"dry run: {counted(len(found), 'batch', 'batches')} ({jobs}) would be pruned")


def _say_if_kept(batch: str | None, found: Sequence[object], older_than: Age) -> None:
    """The --batch asked for is finished (checked before) but not old enough: say so."""
    if batch is not None and not found:
        _say(f"batch {batch}: it changed within the last {older_than.text}; kept")


def _pruned_line(done: PrunedBatch) -> str:
    removed = f"{counted(done.jobs, 'job')}, {counted(done.attempts, 'attempt')} removed"
    if done.complete:
        return f"batch {done.name}: pruned ({removed})"
    return (
        f"batch {done.name}: {removed}; kept, with the jobs that run again or finished since "
        "(a retry meanwhile)"
    )


def _say(line: str) -> None:
    err.print(line, highlight=False, markup=False)
