"""The `seedream-batch` command: run, submit, status, worker, emulator (resume, retry and cancel
are `producer.batch_commands`, doctor is `producer.doctor`, expand `producer.expand_command`).

Commands are thin: they read the settings, call the producer or the worker, and turn known
failures (a missing setting, a bad manifest, a broker that does not answer) into one clear line
and a non-zero exit. Every command exits with a code of `producer.exit_codes`.
"""

import time
from typing import Annotated

import typer

from config.settings import Settings
from jobs.batch_summary import BatchSummary
from jobs.redis_keys import JOB_QUEUE
from jobs.results import Batch, ResultsTable
from jobs.wording import counted
from producer.batch_commands import cancel, pause, resume, retry
from producer.cli_support import (
    JobSender,
    MaxInFlightOption,
    ModelOption,
    RejectsOption,
    StrictOption,
    VariantsOption,
    WeightOption,
    command_settings,
    err,
    fail,
    job_sender,
    serve_scheduled_fires,
    share_option,
)
from producer.doctor import doctor
from producer.dry_run import dry_run
from producer.emulator_command import EMULATOR_SETTINGS, emulator
from producer.exit_codes import ExitCode, batch_exit_code
from producer.expand_command import expand
from producer.export_command import export
from producer.fleet_watch import celery_ping, watching_the_fleet
from producer.manifest import ManifestError
from producer.option_errors import OptionErrorsGroup
from producer.progress import wait_for_batch
from producer.prune_command import prune
from producer.schedule_commands import beat, schedules
from producer.status_command import status
from producer.submission import (
    Submission,
    SubmissionError,
    batch_model,
    open_table,
    submit_manifest,
)
from producer.submit_options import (
    AllowPartialOption,
    BatchOption,
    DryRunOption,
    FreshOption,
    ManifestArg,
    MaxCostOption,
    MaxImagesOption,
    OutOption,
    PreflightOption,
    SubmitOptions,
)
from worker.broker import BrokerUnreachable, broker_location
from worker.notify import notify_batch

app = typer.Typer(
    help="Batch image generation with Seedream (4.0, 4.5) on Cloudflare Workers AI.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    # click's plain help: it joins the lines of a docstring into paragraphs as markdown did, and
    # shows a flag as a flag (typer's rich help gives every bool option a `<bool>` value)
    rich_markup_mode=None,
    cls=OptionErrorsGroup,
)
app.command("emulator", context_settings=EMULATOR_SETTINGS, add_help_option=False)(emulator)


def _dry_run(settings: Settings, options: SubmitOptions) -> typer.Exit:
    """Print what the manifest would come to, and return the exit a run would start with."""
    try:
        model = batch_model(options.model or settings.model)
        found = dry_run(
            settings, options.manifest, model, variants=options.variants or 1,
            rejects=options.rejects, strict=options.strict, max_cost=options.max_cost,
            allow_partial=options.allow_partial,
            fresh=options.fresh,
        )  # fmt: skip
    except (ManifestError, SubmissionError) as exc:
        return fail(str(exc))
    for line in found.lines:
        typer.echo(line.render())
    return typer.Exit(found.exit_code)


def _preflight(settings: Settings, output: str) -> None:
    """Stop, one line per problem, when the token or the output would fail the batch."""
    # imported here: the checks bring boto3 and the HTTP client, which no other command of the
    # CLI needs at start-up (`status`, polled by scripts, starts without them)
    from producer.preflight.checks import preflight_problems

    problems = preflight_problems(settings, output)
    if problems:
        exits = [fail(problem) for problem in problems]
        raise exits[-1]


def _submit(
    table: ResultsTable, settings: Settings, options: SubmitOptions, sender: JobSender
) -> Submission:
    started = time.monotonic()
    manifest = options.manifest
    output = options.out or settings.output

    def check_before_recording() -> None:
        sender.check()
        if options.preflight:
            _preflight(settings, output)

    try:
        submission = submit_manifest(
            table,
            settings,
            manifest,
            output=output,
            batch_name=options.batch,
            wake=sender.wake,
            check_broker=check_before_recording,
            strict=options.strict,
            rejects=options.rejects,
            show_progress=err.is_terminal,
            max_images=options.max_images,
            max_cost=options.max_cost,
            model=options.model,
            share=options.share,
            variants=options.variants,
            allow_partial=options.allow_partial,
            fresh=options.fresh,
        )
    except (ManifestError, SubmissionError, BrokerUnreachable) as exc:
        raise fail(str(exc)) from None
    report = submission.report
    if report is None:
        resumed = counted(submission.resumed_jobs, "job")
        err.print(f"resuming batch {submission.batch.id}: {resumed} to run")
    elif report.refused:
        bad = counted(report.rejected, "bad row")
        raise fail(f"{manifest}: {bad}; --strict refused the whole manifest")
    else:
        loaded, rejected, seconds = report.loaded, report.rejected, time.monotonic() - started
        err.print(
            f"batch {submission.batch.id}: {counted(loaded, 'job')} queued, "
            f"{counted(rejected, 'row')} rejected "
            f"in {seconds:.1f} s ({(loaded + rejected) / max(seconds, 1e-3):,.0f} rows/s)",
            highlight=False,
        )
    return submission


def _wait(settings: Settings, table: ResultsTable, batch: Batch, *, lines: bool) -> BatchSummary:
    """Wait until the batch is final (or paused). With a fleet, say so first, and warn while no
    worker answers: the jobs wait for `worker` processes this command does not start."""
    if settings.embedded or settings.broker_url is None:
        return wait_for_batch(table, batch, show_progress=err.is_terminal, lines=lines)
    from worker.app import app as celery_app

    location = broker_location(settings.broker_url)
    err.print(
        f"batch {batch.id}: jobs queued for the fleet on {location}, waiting for workers",
        highlight=False,
        markup=False,
    )

    def warn(silent_s: float) -> None:
        err.print(
            f"warning: no worker has answered on {location} for {silent_s:.0f} s; the jobs wait "
            "until one runs (`seedream-batch worker` with the same SEEDREAM_BROKER_URL and "
            "SEEDREAM_DATABASE_URL)",
            highlight=False,
            markup=False,
        )

    with watching_the_fleet(celery_ping(celery_app), warn):
        return wait_for_batch(table, batch, show_progress=err.is_terminal, lines=lines)


@app.command()
def run(
    manifest: ManifestArg,
    out: OutOption = None,
    batch: BatchOption = None,
    strict: StrictOption = False,
    rejects: RejectsOption = None,
    max_images: MaxImagesOption = None,
    max_cost: MaxCostOption = None,
    model: ModelOption = None,
    concurrency: Annotated[int | None, typer.Option(help="Worker threads.")] = None,
    preflight: PreflightOption = True,
    weight: WeightOption = None,
    max_in_flight: MaxInFlightOption = None,
    variants: VariantsOption = None,
    allow_partial: AllowPartialOption = False,
    fresh: FreshOption = False,
    dry: DryRunOption = False,
) -> None:
    """Generate every image of MANIFEST and wait for the batch to finish: in this process, or,
    with SEEDREAM_BROKER_URL set, on the fleet's workers.

    Exits 0 when every job succeeded, 1 when some failed or rows were rejected, 2 when nothing
    was started (bad input or settings, no broker, over --max-cost), 3 when the batch paused, 4
    when it was cancelled; with --dry-run, as the run would start."""
    settings = command_settings(need_credentials=not dry)
    options = SubmitOptions(
        manifest, out, batch, strict, rejects, max_images, max_cost, model, preflight,
        share_option(weight, max_in_flight), variants, allow_partial, fresh,
    )  # fmt: skip
    if dry:
        raise _dry_run(settings, options)
    started = time.monotonic()
    table = open_table(settings)
    with job_sender(settings, concurrency) as sender:
        submission = _submit(table, settings, options, sender)
        summary = _wait(settings, table, submission.batch, lines=False)
        notify_batch(settings, table, submission.batch.id)
    elapsed = time.monotonic() - started
    succeeded = summary.counts["succeeded"]
    typer.echo(summary.render())
    typer.echo(f"{counted(succeeded, 'image')} in {elapsed:.1f} s")
    raise typer.Exit(batch_exit_code(summary))


@app.command()
def submit(
    manifest: ManifestArg,
    out: OutOption = None,
    batch: BatchOption = None,
    strict: StrictOption = False,
    rejects: RejectsOption = None,
    max_images: MaxImagesOption = None,
    max_cost: MaxCostOption = None,
    model: ModelOption = None,
    watch: Annotated[
        bool, typer.Option("--watch", help="Then follow the batch live until it is final.")
    ] = False,
    preflight: PreflightOption = True,
    weight: WeightOption = None,
    max_in_flight: MaxInFlightOption = None,
    variants: VariantsOption = None,
    allow_partial: AllowPartialOption = False,
    fresh: FreshOption = False,
    dry: DryRunOption = False,
) -> None:
    """Validate MANIFEST and record its jobs for `worker` processes, whose dispatcher sends
    them in the batch's turn.

    Exits 0 when every row was recorded, 1 when some rows were rejected (the others are
    recorded), 2 when nothing was recorded (bad input or settings, no broker, over --max-cost);
    with --watch, as `run` does once the batch is final; with --dry-run, as it would start."""
    settings = command_settings(need_credentials=False, need_broker=not dry)
    options = SubmitOptions(
        manifest, out, batch, strict, rejects, max_images, max_cost, model, preflight,
        share_option(weight, max_in_flight), variants, allow_partial, fresh,
    )  # fmt: skip
    if dry:
        raise _dry_run(settings, options)
    table = open_table(settings)
    with job_sender(settings) as sender:
        submission = _submit(table, settings, options, sender)
    typer.echo(submission.batch.id)
    if watch:
        summary = _wait(settings, table, submission.batch, lines=True)
        err.print(summary.render(), highlight=False, markup=False)
        raise typer.Exit(batch_exit_code(summary))
    rejected = submission.report is not None and submission.report.rejected
    raise typer.Exit(ExitCode.incomplete if rejected else ExitCode.done)


@app.command()
def worker(
    concurrency: Annotated[int | None, typer.Option(help="Worker threads.")] = None,
    loglevel: Annotated[str, typer.Option(help="Celery log level.")] = "INFO",
) -> None:
    """Consume jobs from the shared broker until stopped (run as many as you like)."""
    settings = command_settings(need_credentials=True, need_broker=True)
    from worker.app import app as celery_app

    serve_scheduled_fires()
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


# the commands defined in their own modules, after run, submit and worker in `--help`
app.command("status")(status)
app.command("pause")(pause)
app.command("resume")(resume)
app.command("retry")(retry)
app.command("cancel")(cancel)
app.command("export")(export)
app.command("expand")(expand)
app.command("beat")(beat)
app.command("schedules")(schedules)
app.command("doctor")(doctor)
app.command("prune")(prune)
