"""`seedream-batch status [BATCH] [--watch] [--json]`: how the batches stand.

With no batch, a table of the recent ones; with one, its counts, error classes (with an example
message each), pace, share of the fleet and where its images are; `--watch` follows it live
until it is final. The fleet's shares are read once for all the batches shown.
"""

import json
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from config.settings import Settings
from jobs.batch_summary import PACE_SHORT_LABEL, BatchSummary, duration
from jobs.fleet_shares import FleetShares
from jobs.results import ResultsTable
from producer.cli_support import (
    command_settings,
    err,
    existing_batch,
    existing_table,
    listing_console,
)
from producer.progress import wait_for_batch

#: how many batches the listing shows, newest first
RECENT_BATCHES = 20


def status(
    batch: Annotated[
        str | None, typer.Argument(help="Batch name; none lists recent batches.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    watch: Annotated[
        bool, typer.Option("--watch", help="Follow the batch live until it is final.")
    ] = False,
) -> None:
    """Show a batch's counts by state, its errors, pace, share of the fleet and where its images
    are."""
    settings = command_settings(need_credentials=False)
    table = existing_table(settings)
    if batch is None:
        shares = _fleet_shares(table, settings)
        recent = table.recent_batches(RECENT_BATCHES)
        summaries = [BatchSummary.of(table, b, shares=shares) for b in recent]
        if as_json:
            typer.echo(json.dumps([s.as_json() for s in summaries], indent=2))
        else:
            listing_console().print(_listing(summaries))
        return
    found = existing_batch(table, batch)
    if watch:
        summary = wait_for_batch(table, found, show_progress=err.is_terminal, lines=True)
    else:
        summary = BatchSummary.of(table, found, shares=_fleet_shares(table, settings))
    typer.echo(json.dumps(summary.as_json(), indent=2) if as_json else summary.render())


def _fleet_shares(table: ResultsTable, settings: Settings) -> FleetShares:
    """The fleet's shares now, read once for every batch a status shows (`--watch` reads its
    own as it goes)."""
    return FleetShares.read(table.engine, datetime.now(UTC), settings.fleet_calls_per_second())


def _listing(summaries: list[BatchSummary]) -> Table:
    listing = Table(
        "batch", "state", "created", "jobs", "succeeded", "failed", "unfinished", "spend",
        "weight", "share", PACE_SHORT_LABEL, "ETA",
    )  # fmt: skip
    for s in summaries:
        listing.add_row(
            s.batch,
            s.state,
            (s.created_at or "")[:16].replace("T", " "),
            str(s.total),
            str(s.counts["succeeded"]),
            str(s.counts["failed"]),
            str(s.total - s.finished),
            f"${s.spend_usd:.2f}",
            f"{s.weight:g}",
            s.share_label,
            "-" if s.images_per_s is None else f"{s.images_per_s:.2f}",
            duration(s.likely_eta_s),
        )
    return listing
