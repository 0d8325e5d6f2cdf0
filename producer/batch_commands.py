"""`seedream-batch resume | retry | cancel BATCH`: the commands that act on a batch already made.

With a broker configured they change the table and enqueue for the fleet, then return (exit 0);
a broker that does not answer is one line and exit 2, with the table unchanged. Embedded (no
broker), `resume` and `retry` run the jobs in this process and wait, and exit as `run` does
(`producer.exit_codes`). `cancel` exits 0 once the batch is cancelled.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from config.settings import Settings
from jobs.errors import ErrorClass
from jobs.results import ResultsTable
from jobs.states import JobState
from jobs.wording import counted
from producer.cli_support import (
    JobSender,
    command_settings,
    err,
    existing_batch,
    existing_table,
    fail,
    job_sender,
)
from producer.exit_codes import batch_exit_code
from producer.progress import wait_for_batch
from producer.rerun import resume_batch, retry_batch
from producer.submission import SubmissionError, sent_after_recording
from worker.broker import BrokerUnreachable
from worker.notify import notify_batch

BatchArg = Annotated[str, typer.Argument(help="The batch's name (`seedream-batch status` lists).")]


def resume(
    batch: BatchArg,
    max_images: Annotated[
        int | None, typer.Option("--max-images", min=0, help="A new image budget.")
    ] = None,
    max_cost: Annotated[
        float | None, typer.Option("--max-cost", min=0, help="A new budget in USD.")
    ] = None,
) -> None:
    """Carry on with BATCH after a crash, a lost queue, or a pause once its cause is fixed.

    Re-enqueues every job that is not final and not running (a pause: auth, quota, budget).
    With a broker, exits 0 once they are enqueued; without one, runs them here and exits as
    `run` does. Exits 2 for an unknown batch or a broker that does not answer."""
    settings = _settings()
    table = existing_table(settings)
    found = existing_batch(table, batch)
    with job_sender(settings) as sender, _broker_for(sender, batch):
        sent = resume_batch(
            table,
            found,
            sender.enqueue,
            max_attempts=settings.max_attempts,
            max_images=max_images,
            max_cost=max_cost,
        )
        err.print(
            f"batch {batch}: resumed, {counted(sent, 'job')} enqueued",
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
    image was bad). With a broker, exits 0 once they are enqueued; without one, runs them here
    and exits as `run` does. Exits 2 for an unknown batch or a broker that does not answer."""
    settings = _settings()
    table = existing_table(settings)
    found = existing_batch(table, batch)
    with job_sender(settings) as sender, _broker_for(sender, batch):
        report = retry_batch(table, found, sender.enqueue, classes=classes or (), keys=keys or ())
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


def cancel(batch: BatchArg) -> None:
    """Stop BATCH: its queued jobs are cancelled; running ones finish.

    Images already paid for are still stored. Nothing half-written is left. Exits 0 once the
    batch is cancelled (a `run` waiting for it exits 4), 2 for an unknown batch."""
    table = existing_table(command_settings(need_credentials=False))
    existing_batch(table, batch)
    cancelled = table.cancel(batch)
    counts = table.counts(batch)
    finishing = counts[JobState.running] + counts[JobState.generated]
    err.print(
        f"batch {batch}: cancelled {counted(cancelled, 'queued job')}; "
        f"{finishing} running will finish",
        highlight=False,
        markup=False,
    )


@contextmanager
def _broker_for(sender: JobSender, batch: str) -> Iterator[None]:
    """Check the broker before the block changes the table; if it goes away during the block,
    say that `resume` sends what is left (the table is changed first, see producer.rerun)."""
    try:
        sender.check()
        with sent_after_recording(batch):
            yield
    except (BrokerUnreachable, SubmissionError) as exc:
        raise fail(str(exc)) from None


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
