"""The `seedream-batch` command: run, submit, status, worker, emulator.

Commands are thin: they read the settings, call the producer or the worker, and turn known
failures (a missing setting, a bad manifest) into one clear line and a non-zero exit.
"""

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from config.settings import MissingSetting, Settings, get_settings
from emulator.cli import emulator_command
from jobs.results import ResultsTable
from producer.manifest import ManifestError
from producer.progress import BatchSummary, wait_for_batch
from producer.submission import Submission, SubmissionError, open_table, submit_manifest

app = typer.Typer(
    help="Batch image generation with Seedream 4.0 on Cloudflare Workers AI.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.command("emulator")(emulator_command)
err = Console(stderr=True)

ManifestArg = Annotated[Path, typer.Argument(help="JSONL or CSV manifest, one image job per row.")]
OutOption = Annotated[
    str | None,
    typer.Option("--out", help="Folder or s3://bucket/prefix (default SEEDREAM_OUTPUT)."),
]
BatchOption = Annotated[
    str | None, typer.Option("--batch", help="Batch name; an existing batch is resumed.")
]
StrictOption = Annotated[
    bool, typer.Option("--strict", help="Refuse the manifest if any row is bad.")
]
RejectsOption = Annotated[
    Path | None, typer.Option("--rejects", help="Write bad rows here, in the manifest's format.")
]


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code)


def _settings(*, need_credentials: bool, need_broker: bool = False) -> Settings:
    settings = get_settings()
    try:
        if need_credentials:  # the commands that call the API, through the fleet's limiter
            settings.require_api_credentials()
            settings.fleet_limiter_url()
    except MissingSetting as exc:
        raise _fail(str(exc)) from None
    if need_broker and settings.embedded:
        raise _fail(
            "SEEDREAM_BROKER_URL is not set: `submit` and `worker` need a shared broker "
            "(e.g. redis://127.0.0.1:6379/0); use `seedream-batch run` to do it all in one process"
        )
    return settings


def _submit(
    table: ResultsTable,
    settings: Settings,
    manifest: Path,
    out: str | None,
    batch: str | None,
    strict: bool,
    rejects: Path | None,
) -> Submission:
    from worker.app import app as celery_app
    from worker.publish import job_enqueuer

    started = time.monotonic()
    try:
        with job_enqueuer(celery_app) as enqueue:
            submission = submit_manifest(
                table,
                settings,
                manifest,
                output=out or settings.output,
                batch_name=batch,
                enqueue=enqueue,
                strict=strict,
                rejects=rejects,
                show_progress=err.is_terminal,
            )
    except (ManifestError, SubmissionError) as exc:
        raise _fail(str(exc)) from None
    report = submission.report
    if report is None:
        err.print(
            f"resuming batch {submission.batch.id}: {submission.resumed_jobs} jobs re-enqueued"
        )
    elif report.refused:
        raise _fail(f"{manifest}: {report.rejected} bad rows; --strict refused the whole manifest")
    else:
        loaded, rejected, seconds = report.loaded, report.rejected, time.monotonic() - started
        err.print(
            f"batch {submission.batch.id}: {loaded:,} jobs queued, {rejected:,} rows rejected "
            f"in {seconds:.1f} s ({(loaded + rejected) / max(seconds, 1e-3):,.0f} rows/s)",
            highlight=False,
        )
    return submission


@app.command()
def run(
    manifest: ManifestArg,
    out: OutOption = None,
    batch: BatchOption = None,
    strict: StrictOption = False,
    rejects: RejectsOption = None,
    concurrency: Annotated[int | None, typer.Option(help="Worker threads.")] = None,
) -> None:
    """Generate every image of MANIFEST in this process and wait for the batch to finish."""
    settings = _settings(need_credentials=True)
    from worker.app import app as celery_app
    from worker.embedded import EmbeddedWorker

    started = time.monotonic()
    table = open_table(settings)
    with EmbeddedWorker(celery_app, concurrency or settings.concurrency):
        submission = _submit(table, settings, manifest, out, batch, strict, rejects)
        summary = wait_for_batch(table, submission.batch, show_progress=err.is_terminal)
    elapsed = time.monotonic() - started
    succeeded = summary.counts["succeeded"]
    typer.echo(summary.render())
    typer.echo(f"{succeeded} images in {elapsed:.1f} s ({succeeded / elapsed:.2f} images/s)")
    if summary.counts["failed"]:
        raise typer.Exit(1)


@app.command()
def submit(
    manifest: ManifestArg,
    out: OutOption = None,
    batch: BatchOption = None,
    strict: StrictOption = False,
    rejects: RejectsOption = None,
) -> None:
    """Validate MANIFEST, record its jobs and enqueue them for `worker` processes."""
    settings = _settings(need_credentials=False, need_broker=True)
    submission = _submit(open_table(settings), settings, manifest, out, batch, strict, rejects)
    typer.echo(submission.batch.id)


@app.command()
def status(
    batch: Annotated[
        str | None, typer.Argument(help="Batch name; none lists recent batches.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show a batch's counts by state, its errors and where its images are."""
    table = open_table(_settings(need_credentials=False))
    if batch is None:
        summaries = [BatchSummary.of(table, b) for b in table.recent_batches()]
        if as_json:
            typer.echo(json.dumps([s.as_json() for s in summaries], indent=2))
            return
        listing = Table("batch", "jobs", "succeeded", "failed", "unfinished", "spend")
        for s in summaries:
            listing.add_row(
                s.batch,
                str(s.total),
                str(s.counts["succeeded"]),
                str(s.counts["failed"]),
                str(s.total - s.finished),
                f"${s.spend_usd:.2f}",
            )
        Console().print(listing)
        return
    found = table.get_batch(batch)
    if found is None:
        raise _fail(f"no batch named {batch!r}; `seedream-batch status` lists them")
    summary = BatchSummary.of(table, found)
    typer.echo(json.dumps(summary.as_json(), indent=2) if as_json else summary.render())


@app.command()
def worker(
    concurrency: Annotated[int | None, typer.Option(help="Worker threads.")] = None,
    loglevel: Annotated[str, typer.Option(help="Celery log level.")] = "INFO",
) -> None:
    """Consume jobs from the shared broker until stopped (run as many as you like)."""
    settings = _settings(need_credentials=True, need_broker=True)
    from config.celery_config import JOB_QUEUE
    from worker.app import app as celery_app

    celery_app.worker_main(
        [
            "worker",
            "--pool=threads",
            f"--concurrency={concurrency or settings.concurrency}",
            f"--loglevel={loglevel}",
            f"--queues={JOB_QUEUE}",
            "--without-gossip",
            "--without-mingle",
        ]
    )
