"""`seedream-batch expand CAMPAIGN`: the manifest a campaign file stands for, as JSONL on stdout.

Each line is one combination of one data row, as `run` would read it from a manifest: save it
beside the campaign (local image paths are read from the campaign's folder) and it makes the same
jobs. Bad data rows are reported on stderr as `run` reports them, and left out; with --strict
nothing is printed unless every row is good (the campaign is read twice: a first pass to check,
a second to print, so memory stays flat).
"""

import os
import sys
from pathlib import Path
from typing import Annotated, BinaryIO

import typer
from pydantic_core import to_json

from jobs.models import ModelAdapter
from jobs.wording import counted
from producer.campaigns.campaign_file import is_campaign
from producer.cli_support import (
    ModelOption,
    RejectsOption,
    StrictOption,
    command_settings,
    err,
    fail,
)
from producer.dry_run import dry_run
from producer.exit_codes import ExitCode
from producer.manifest import ManifestError, ManifestReader, RejectedRow
from producer.rejects import RejectsWriter
from producer.submission import SubmissionError, batch_model


def expand(
    campaign: Annotated[Path, typer.Argument(help="A campaign file (.yaml).")],
    model: ModelOption = None,
    strict: StrictOption = False,
    rejects: RejectsOption = None,
    estimate: Annotated[
        bool,
        typer.Option(
            "--estimate", help="Print what a run would come to (jobs, images, cost, time) instead."
        ),
    ] = False,
) -> None:
    """Print the manifest (JSONL) CAMPAIGN stands for, a line per job's row, checked as `run`
    would check it for the model.

    Exits 0 when every data row expanded, 1 when some were rejected (the others are printed), 2
    when the campaign cannot be used (or --strict found a bad row: nothing is printed)."""
    settings = command_settings(need_credentials=False)
    if not is_campaign(campaign):
        raise fail(
            f"{campaign}: is a manifest, not a campaign file (.yaml): `run` reads it as it is"
        )
    try:
        adapter = batch_model(model or settings.model)
        if estimate:
            found = dry_run(settings, campaign, adapter, rejects=rejects, strict=strict)
            for line in found.lines:
                typer.echo(line.render())
            raise typer.Exit(found.exit_code)
        if strict and (bad := _expanded(campaign, adapter, None, None)):
            bad_rows = counted(bad, "bad row")
            raise fail(f"{campaign}: {bad_rows}; --strict refused the whole campaign")
        writer = None if rejects is None else RejectsWriter.for_manifest(campaign, rejects, adapter)
        try:
            rejected = _expanded(campaign, adapter, sys.stdout.buffer, writer)
        except BrokenPipeError:  # `expand c.yaml | head`: the reader has seen enough
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(ExitCode.done) from None
        finally:
            if writer is not None:
                writer.close()
    except (ManifestError, SubmissionError) as exc:
        raise fail(str(exc)) from None
    raise typer.Exit(ExitCode.incomplete if rejected else ExitCode.done)


def _expanded(
    campaign: Path, model: ModelAdapter, out: BinaryIO | None, rejects: RejectsWriter | None
) -> int:
    """Expand the campaign, writing each good row's manifest rows to `out` (when given) and
    reporting each bad one; the count of bad rows."""
    rows = jobs = bad = 0
    with ManifestReader(campaign, model=model) as reader:
        for expanded, found in reader.campaign_rows():
            if isinstance(found, RejectedRow):
                bad += 1
                print(found, file=sys.stderr)
                if rejects is not None:
                    rejects.write(found)
                continue
            rows += 1
            jobs += len(found)
            if out is not None:  # pydantic-core's JSON: a seventh of the json module's time
                out.write(b"\n".join(to_json(row, fallback=str) for row in expanded.rows) + b"\n")
    if out is not None:
        out.flush()
        err.print(
            f"{campaign}: {counted(rows, 'data row')} expanded into {counted(jobs, 'job')}, "
            f"{counted(bad, 'row')} rejected",
            highlight=False,
        )
    return bad
