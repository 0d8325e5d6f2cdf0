"""`seedream-batch doctor [MANIFEST]`: whether everything is right before a batch is paid for.

One line per check, each `✓` (fine), `!` (could not be checked, or works less well than it could),
`✗` (what to fix) or `·` (what the settings mean for the run), and no image generated: the token,
the account and its gateways are asked of Cloudflare's account API, the broker and the results
table are connected to, the output gets a probe object written, read back and deleted. Then the
pace and the bill for N jobs. Exits 2 (`ExitCode.refused`) when any check failed, 0 otherwise.
"""

from pathlib import Path
from typing import Annotated

import typer

from jobs.models import model_named
from jobs.wording import counted
from producer.cli_support import ModelOption, command_settings
from producer.exit_codes import ExitCode
from producer.preflight.estimate import RunPlan, plan_lines
from producer.preflight.lines import CheckLine


def doctor(
    manifest: Annotated[
        Path | None,
        typer.Argument(help="The manifest to be run: its valid rows are the jobs estimated."),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option("--jobs", min=0, help="Estimate for this many jobs (instead of MANIFEST's)."),
    ] = None,
    out: Annotated[
        str | None,
        typer.Option("--out", help="Folder or s3://bucket/prefix (default SEEDREAM_OUTPUT)."),
    ] = None,
    model: ModelOption = None,
) -> None:
    """Check the token, the account, the gateways, the broker, the results table and the output,
    then say what the settings mean for the run (rate, time, spend), without generating an image.

    Exits 0 when nothing needs fixing, 2 when a check failed (each failure is a `✗` line)."""
    # imported here, as every command's own work is: the checks bring boto3 and the HTTP client
    from producer.preflight.checks import doctor_lines, manifest_jobs

    settings = command_settings(need_credentials=False)
    batch_model = model or settings.model
    shown: list[CheckLine] = []

    def show(line: CheckLine) -> None:
        shown.append(line)
        typer.echo(line.render())

    for line in doctor_lines(settings, out or settings.output):
        show(line)
    counted_in, images = None, None
    if jobs is None and manifest is not None:
        jobs, images, line = manifest_jobs(manifest, model_named(batch_model))
        counted_in = str(manifest)
        show(line)
    plan = RunPlan.from_settings(settings, batch_model)
    for line in plan_lines(plan, jobs, counted_in, images):
        show(line)
    problems = sum(line.failed for line in shown)
    if problems:
        typer.echo(f"{counted(problems, 'problem')} to fix before a batch (the ✗ lines)")
        raise typer.Exit(ExitCode.refused)
    typer.echo("ready: nothing to fix")
