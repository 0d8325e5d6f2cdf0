"""A price before you pay: `run`/`submit --dry-run` and `expand --estimate`.

The manifest (or campaign) is read and checked exactly as a run reads it, its bad rows reported
as a run reports them (stderr, `--rejects`), and what it would come to is printed: the jobs, the
images to pay for, their cost at the model's price and the time at the configured rate. Nothing
is recorded, sent or stored: no results table is opened (not even created), no broker or
storage is reached and no call is made.
"""

from dataclasses import dataclass
from pathlib import Path

from config.settings import Settings
from jobs.models import ModelAdapter
from jobs.wording import counted
from producer.exit_codes import ExitCode
from producer.job_count import JobCount, count_jobs
from producer.manifest import ManifestReader
from producer.preflight.estimate import RunPlan, plan_lines
from producer.preflight.lines import CheckLine, failed, note
from producer.rejects import reject_sink
from producer.reuse_estimate import ReuseEstimate


@dataclass(frozen=True)
class DryRun:
    """What a dry run found: the count, the lines to print, and what a real run would exit with."""

    count: JobCount
    lines: list[CheckLine]
    exit_code: ExitCode


def dry_run(
    settings: Settings,
    manifest: Path,
    model: ModelAdapter,
    *,
    variants: int = 1,
    rejects: Path | None = None,
    strict: bool = False,
    max_cost: float | None = None,
    allow_partial: bool = False,
    fresh: bool = False,
) -> DryRun:
    """Read and count `manifest` for a batch of `model`, and (unless `fresh`) the jobs that
    would copy a stored image; ManifestError when it cannot be read."""
    reuse = None if fresh else ReuseEstimate.against(settings.database_url, model)
    with (
        reject_sink(manifest, rejects, model) as on_reject,
        ManifestReader(manifest, model=model, variants=variants) as reader,
    ):
        count = count_jobs(reader, on_reject, None if reuse is None else reuse.add)
    plan = RunPlan.from_settings(settings, model.name)
    lines = [_rows_line(manifest, count, strict)]
    if reuse is not None:
        reuse.finish()
        lines.append(_reuse_line(count, reuse, plan))
        count = JobCount(count.jobs - reuse.reused, count.images - reuse.reused_images,
                         count.rejected)  # fmt: skip
    lines += plan_lines(plan, count.jobs, str(manifest), count.images)
    if max_cost is not None:
        lines.append(_budget_line(count, plan, max_cost, allow_partial))
    return DryRun(count, lines, _exit_code(count, lines))


def _reuse_line(count: JobCount, reuse: ReuseEstimate, plan: RunPlan) -> CheckLine:
    saved = reuse.reused_images * plan.price_per_image
    return note(
        "reuse",
        f"{counted(reuse.reused, 'job')} of {count.jobs:,} would copy an image already paid for "
        f"(same input, stored or made earlier in this run): no call, saving ${saved:,.2f}; "
        "--fresh pays for them",
    )


def _rows_line(manifest: Path, count: JobCount, strict: bool) -> CheckLine:
    text = (
        f"{manifest}: {counted(count.jobs, 'job')} from the valid rows, "
        f"{counted(count.rejected, 'row')} rejected; nothing was recorded, sent or called"
    )
    if count.rejected and strict:
        return failed("dry run", f"{text}; --strict would refuse the whole manifest")
    if not count.jobs:
        return failed("dry run", f"{text}; a run would record nothing")
    return note("dry run", text)


def _budget_line(count: JobCount, plan: RunPlan, max_cost: float, allow_partial: bool) -> CheckLine:
    cost = count.cost(plan.price_per_image)
    if cost <= max_cost:
        return note("budget", f"${cost:,.2f} is within --max-cost ${max_cost:g}")
    if allow_partial:
        images = int(max_cost // plan.price_per_image) if plan.price_per_image else count.images
        return note(
            "budget",
            f"${cost:,.2f} is over --max-cost ${max_cost:g}: with --allow-partial the batch "
            f"would pause once about {images:,} images are paid for",
        )
    return failed(
        "budget",
        f"${cost:,.2f} is over --max-cost ${max_cost:g}: a run would be refused (add "
        "--allow-partial to run until the budget is spent and pause)",
    )


def _exit_code(count: JobCount, lines: list[CheckLine]) -> ExitCode:
    """What the run would exit with at the start: refused (nothing to record, --strict, over
    budget: a `✗` line), incomplete (rows rejected), or done."""
    if any(line.failed for line in lines):
        return ExitCode.refused
    return ExitCode.incomplete if count.rejected else ExitCode.done
