"""`seedream-batch pause | resume | retry | cancel BATCH`: the commands that act on a batch made.

They change the table, the queue of record: the fleet's dispatcher sends what they make due, in
the batch's turn. With a broker configured `resume` and `retry` wake the fleet's dispatcher and
return (exit 0); a broker that does not answer is one line and exit 2, with the table unchanged.
Embedded (no broker), they run the jobs in this process and wait, and exit as `run` does
(`producer.exit_codes`). `pause` and `cancel` stop the batch's dispatch and take its messages
off the queue, and exit 0.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from config.settings import Settings
from jobs.errors import ErrorClass
from jobs.results import ResultsTable
from jobs.states import BatchState, JobState
from jobs.wording import counted
from producer.cli_support import (
    JobSender,
    MaxInFlightOption,
    WeightOption,
    command_settings,
    err,
    existing_batch,
    existing_table,
    fail,
    job_sender,
    share_option,
)
from producer.exit_codes import batch_exit_code
from producer.progress import wait_for_batch
from producer.rerun import resume_batch, retry_batch
from worker.broker import BrokerUnreachable
from worker.notify import notify_batch
from worker.queue_purge import drop_batch_messages

BatchArg = Annotated[str, typer.Argument(help="The batch's name (`seedream-batch status` lists).")]


def resume(
    batch: BatchArg,
    max_images: Annotated[
        int | None, typer.Option("--max-images", min=0, help="A new image budget.")
    ] = None,
    max_cost: Annotated[
        float | None, typer.Option("--max-cost", min=0, help="A new budget in USD.")
    ] = None,
    weight: WeightOption = None,
    max_in_flight: MaxInFlightOption = None,
) -> None:
    """Carry on with BATCH after a crash, a lost queue, or a pause once its cause is fixed.

    Every job that is not final and not running is sent again in the batch's turn (a pause:
    by hand, auth, quota, budget). With a broker, exits 0 once the batch runs; without one,
    runs its jobs here and exits as `run` does. Exits 2 for an unknown batch or a broker that
    does not answer."""
    settings = _settings()
    table = existing_table(settings)
    found = existing_batch(table, batch)
    with job_sender(settings) as sender, _broker_for(sender):
        waiting = resume_batch(
            table,
            found,
            sender.wake,
            max_attempts=settings.max_attempts,
            max_images=max_images,
            max_cost=max_cost,
            share=share_option(weight, max_in_flight),
        )
        err.print(
            f"batch {batch}: resumed, {counted(waiting, 'job')} to run",
            highlight=False,
            markup=False,
        )
        _wait_if_embedded(settings, table, batch)


def retry(
    batch: BatchArg,
    keys: Annotated[
        list[str] | None, typer.Argument(help="Only these jobs (their keys); default: all failed.")
    ] = None,
    classes: Annotated[
        list[ErrorClass] | None,
        typer.Option("--class", help="Only jobs that failed with this class (repeatable)."),
    ] = None,
) -> None:
    """Re-run the failed jobs of BATCH (or those of --class, or KEYS) with fresh attempts.

    A job whose image was paid for is only stored again, never generated again (unless the
    image was bad). With a broker, exits 0 once they are due; without one, runs them here and
    exits as `run` does. Exits 2 for an unknown batch or a broker that does not answer."""
    settings = _settings()
    table = existing_table(settings)
    found = existing_batch(table, batch)
    with job_sender(settings) as sender, _broker_for(sender):
        report = retry_batch(table, found, sender.wake, classes=classes or (), keys=keys or ())
        for key in report.unknown:
            err.print(f"{batch}: no job with key {key!r}", highlight=False, markup=False)
        for key, state in report.not_failed.items():
            err.print(
                f"{batch}: {key!r} is {state}, not failed: not retried",
                highlight=False,
                markup=False,
            )
        err.print(
            f"batch {batch}: {counted(report.reopened, 'failed job')} retried",
            highlight=False,
            markup=False,
        )
        _wait_if_embedded(settings, table, batch)


def pause(batch: BatchArg) -> None:
    """Stop sending BATCH's jobs to workers: running ones finish, images already paid for are
    still stored, the rest wait in the table until `seedream-batch resume BATCH`.

    Exits 0 once the batch is paused (or was already), 2 for an unknown or cancelled batch."""
    settings = command_settings(need_credentials=False)
    table = existing_table(settings)
    found = existing_batch(table, batch)
    if found.state is BatchState.cancelled:
        raise fail(f"batch {batch} is cancelled; a cancelled batch cannot be paused")
    if not table.pause(batch):
        err.print(f"batch {batch}: already paused", highlight=False, markup=False)
        return
    dropped = drop_batch_messages(settings, table, batch)
    err.print(
        f"batch {batch}: paused ({counted(dropped, 'message')} taken off the queue); running "
        f"jobs finish; `seedream-batch resume {batch}` carries on",
        highlight=False,
        markup=False,
    )


def cancel(batch: BatchArg) -> None:
    """Stop BATCH: its queued jobs are cancelled and its messages taken off the queue; running
    ones finish.

    Images already paid for are still stored. Nothing half-written is left. Exits 0 once the
    batch is cancelled (a `run` waiting for it exits 4), 2 for an unknown batch."""
    settings = command_settings(need_credentials=False)
    table = existing_table(settings)
    existing_batch(table, batch)
    cancelled = table.cancel(batch)
    drop_batch_messages(settings, table, batch)
    counts = table.counts(batch)
    finishing = counts[JobState.running] + counts[JobState.generated]
    err.print(
        f"batch {batch}: cancelled {counted(cancelled, 'queued job')}; "
        f"{finishing} running will finish",
        highlight=False,
        markup=False,
    )


@contextmanager
def _broker_for(sender: JobSender) -> Iterator[None]:
    """Check the broker before the block changes the table: a fleet that cannot be reached is
    one line and exit 2, with nothing changed."""
    try:
        sender.check()
    except BrokerUnreachable as exc:
        raise fail(str(exc)) from None
    yield


def _settings() -> Settings:
    """Enqueueing for a fleet needs no credentials; running the jobs here does."""
    settings = command_settings(need_credentials=False)
    return command_settings(need_credentials=True) if settings.embedded else settings


def _wait_if_embedded(settings: Settings, table: ResultsTable, batch: str) -> None:
    """Embedded, the jobs run in this process: wait for them, then say how the batch stands."""
    if not settings.embedded:
        return
    summary = wait_for_batch(table, existing_batch(table, batch), show_progress=err.is_terminal)
    notify_batch(settings, table, batch)
    typer.echo(summary.render())
    raise typer.Exit(batch_exit_code(summary))
