"""`seedream-batch beat` (start the schedule file's batches on time) and `seedream-batch
schedules` (list them, with their next run and the last batch each made)."""

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from config.settings import Settings
from jobs.batch_summary import duration, shown_state
from jobs.results import Batch, ResultsTable
from jobs.schedules import Schedule
from producer.cli_support import command_settings, existing_table, fail, listing_console
from producer.schedule_file import ScheduleFileError, load_schedules


def beat(
    loglevel: Annotated[str, typer.Option(help="Celery log level.")] = "INFO",
) -> None:
    """Send each schedule's batch to the workers when its cron says (run one, next to them)."""
    settings = command_settings(need_credentials=False, need_broker=True)
    schedules = _schedules(settings)
    from worker.app import app as celery_app
    from worker.beat import MAX_TICK_INTERVAL_S, ScheduleFileScheduler, beat_schedule

    celery_app.conf.beat_schedule = beat_schedule(schedules)
    celery_app.conf.beat_max_loop_interval = MAX_TICK_INTERVAL_S
    celery_app.Beat(
        # Celery takes the class itself or its dotted name; celery-types allows only the name
        scheduler=ScheduleFileScheduler,  # type: ignore[arg-type]
        schedule=str(settings.beat_state_file),
        loglevel=loglevel,
    ).run()


def schedules() -> None:
    """List the schedules: cron, next run, manifest, and the last batch each made."""
    settings = command_settings(need_credentials=False)
    found = _schedules(settings)
    if not found:
        typer.echo(f"{settings.schedules_file}: no schedules")
        return
    table = existing_table(settings)
    now = datetime.now(UTC)
    listing = Table("name", "cron", "timezone", "next run (UTC)", "manifest", "last batch")
    for schedule in found:
        upcoming = schedule.next_run(now)
        listing.add_row(
            schedule.name,
            schedule.cron,
            schedule.timezone,
            f"{upcoming:%Y-%m-%d %H:%M} (in {duration((upcoming - now).total_seconds())})",
            schedule.manifest,
            _last_batch(table, schedule),
        )
    listing_console().print(listing)


def _schedules(settings: Settings) -> list[Schedule]:
    try:
        return load_schedules(settings.schedules_file)
    except ScheduleFileError as exc:
        raise fail(str(exc)) from None


def _last_batch(table: ResultsTable, schedule: Schedule) -> str:
    batch: Batch | None = table.latest_of_schedule(schedule.name)
    if batch is None:
        return "-"
    return f"{batch.id} ({shown_state(batch, table.progress(batch.id))})"
