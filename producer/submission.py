"""What `run` and `submit` share: open the table, find or create the batch, load the manifest.

Nothing is recorded until the manifest is known to make a batch (`producer.screening`) and the
broker answers; a batch name is resumed only with the manifest it was made from.
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from config.settings import Settings
from jobs.batch_names import new_batch_id, validate_name
from jobs.database import open_engine
from jobs.dispatch import Wake
from jobs.models import ModelAdapter, UnknownModel, model_named
from jobs.records import EQUAL_SHARE, Share
from jobs.results import Batch, ResultsTable
from producer.job_count import JobCount
from producer.loader import LoadReport, load_manifest, strict_batch_loading
from producer.manifest import ManifestReader
from producer.progress import LoadingProgress
from producer.rejects import reject_sink
from producer.rerun import resume_batch
from producer.screening import screen_manifest


class SubmissionError(RuntimeError):
    """The manifest or the batch cannot be submitted; the message says why and what to do."""


@dataclass
class Submission:
    """A batch that is loaded (new) or resumed (its name was given and it exists)."""

    batch: Batch
    report: LoadReport | None
    resumed_jobs: int = 0


def open_table(settings: Settings) -> ResultsTable:
    table = ResultsTable(open_engine(settings.database_url))
    table.create_schema()
    return table


def submit_manifest(
    table: ResultsTable,
    settings: Settings,
    manifest: Path,
    *,
    output: str,
    batch_name: str | None,
    wake: Wake,
    strict: bool = False,
    rejects: Path | None = None,
    show_progress: bool = False,
    max_images: int | None = None,
    max_cost: float | None = None,
    schedule: str | None = None,
    source: str | None = None,
    model: str | None = None,
    share: Share | None = None,
    variants: int | None = None,
    allow_partial: bool = False,
    fresh: bool = False,
    check_broker: Callable[[], None] = lambda: None,
) -> Submission:
    """Load `manifest` as a new batch, or resume the batch `batch_name` if it exists and was made
    from the same manifest (the same bytes, a campaign's data file's included; a batch recorded
    before manifests were hashed is resumed whatever the manifest). A batch of that name made
    from another manifest raises SubmissionError.

    A manifest that cannot be read, has no valid row, or (with `strict`) has a bad row raises
    ManifestError and records nothing. `check_broker` is called once the manifest is accepted,
    before anything is recorded, and raises BrokerUnreachable when the jobs could not be sent.

    Its jobs are recorded as due, and `wake` tells the dispatcher to send them. Resuming makes
    every job that is not final and not under a live lease run again (see
    `producer.rerun.resume_batch`). `max_images` and `max_cost` set the batch's budget
    (a resumed batch takes the new values). A new batch whose estimate (every image its jobs may
    be billed for, at the model's price) is over `max_cost` raises SubmissionError before
    anything is recorded, unless `allow_partial`: then it runs until the budget is spent and
    pauses. With `fresh`, a new batch's jobs pay for their images even where an image of the
    same content address is stored (worker.reuse). `show_progress` shows a live bar while the
    manifest loads. A batch made by `schedule` is never resumed: if its name exists, BatchExists is
    raised (by the insert, so two processes making it at once make it once). `source` is what
    the batch records as its manifest when `manifest` is a local copy (of an s3:// one).

    `model` is the batch's model (default SEEDREAM_MODEL): every row is validated for it, and the
    batch records it and its price (`Settings.price_for`). A batch has one model, so resuming a
    batch with another `model` raises SubmissionError. `share` is its weight and cap on jobs in
    flight (default: an equal share; a resumed batch takes the new one, when given). `variants` is
    the images each row asks for unless it says (default 1, `jobs.variants`); resuming a batch
    recorded with another number raises SubmissionError.
    """
    adapter = batch_model(model or settings.model)
    # opened first: a manifest that cannot be read leaves nothing behind
    with ManifestReader(manifest, model=adapter, variants=variants or 1) as reader:
        digest = manifest_sha256(*reader.files)
        existing = _batch_to_resume(table, batch_name, schedule)
        if existing is not None:
            _refuse_another_manifest(existing, manifest, digest)
            _refuse_another_model(existing, model)
            _refuse_other_variants(existing, variants)
            check_broker()
            resumed = resume_batch(
                table,
                existing,
                wake,
                max_attempts=settings.max_attempts,
                max_images=max_images,
                max_cost=max_cost,
                share=share,
            )
            return Submission(table.get_batch(existing.id) or existing, None, resumed)
        with reject_sink(manifest, rejects, adapter) as on_reject:
            price = settings.price_for(adapter.name)
            screening = screen_manifest(
                manifest,
                on_reject,
                strict=strict,
                show_progress=show_progress,
                model=adapter,
                variants=reader.variants,
                count=max_cost is not None and not allow_partial,
            )
            if screening.count is not None and max_cost is not None:
                _refuse_over_budget(manifest, screening.count, price, max_cost)
            check_broker()
            batch = table.create_batch(
                batch_name or new_batch_id(manifest),
                source or str(manifest),
                output,
                adapter.name,
                price_per_image=price,
                max_images=max_images,
                max_cost=max_cost,
                schedule=schedule,
                manifest_sha256=digest,
                share=share or EQUAL_SHARE,
                variants=reader.variants,
                fresh=fresh,
            )
            if strict:
                strict_batch_loading(table, batch)
            on_reject.skip(screening.reported)
            with LoadingProgress(reader, show_progress) as shown:
                report = load_manifest(
                    table, batch, reader, wake, on_reject, strict=strict, progress=shown
                )
    return Submission(table.get_batch(batch.id) or batch, report)


def manifest_sha256(manifest: Path, *more: Path) -> str:
    """The SHA-256 of the manifest's bytes, read in blocks (memory stays flat); of a campaign
    and its data file, the SHA-256 of their two digests, so a changed data file is another
    manifest too."""
    digests = [_file_sha256(path) for path in (manifest, *more)]
    if not more:
        return digests[0]
    return hashlib.sha256("".join(digests).encode()).hexdigest()


def _file_sha256(path: Path) -> str:
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def batch_model(name: str) -> ModelAdapter:
    """The adapter of the model `name`, or SubmissionError listing the supported ones."""
    try:
        return model_named(name)
    except UnknownModel as exc:
        raise SubmissionError(str(exc)) from None


def _refuse_over_budget(manifest: Path, count: JobCount, price: float, max_cost: float) -> None:
    if (cost := count.cost(price)) <= max_cost:
        return
    raise SubmissionError(
        f"{manifest}: its estimate is ${cost:,.2f} ({count.images:,} images × ${price:g}), over "
        f"--max-cost ${max_cost:g}: nothing was recorded; raise --max-cost, or add "
        "--allow-partial to run until the budget is spent and pause"
    )


def _refuse_another_model(batch: Batch, model: str | None) -> None:
    if model is None or model == batch.model:
        return
    raise SubmissionError(
        f"batch {batch.id!r} calls {batch.model}, not {model}; a batch has one model: submit "
        "the rows for another model as another batch"
    )


def _refuse_other_variants(batch: Batch, variants: int | None) -> None:
    """Its rows' jobs are recorded: another --variants would not make other jobs of them."""
    if variants is None or variants == batch.variants:
        return
    raise SubmissionError(
        f"batch {batch.id!r} was recorded with --variants {batch.variants}, and its jobs with it; "
        f"submit the manifest as another batch (--batch) for {variants} variants a row"
    )


def _batch_to_resume(table: ResultsTable, name: str | None, schedule: str | None) -> Batch | None:
    """The batch `name` if it exists and may be resumed (a schedule's never is)."""
    if name is None:
        return None
    try:
        validate_name(name)
    except ValueError as exc:
        raise SubmissionError(str(exc)) from None
    return table.get_batch(name) if schedule is None else None


def _refuse_another_manifest(batch: Batch, manifest: Path, digest: str) -> None:
    if batch.manifest_sha256 is None or batch.manifest_sha256 == digest:
        return
    raise SubmissionError(
        f"batch {batch.id!r} was made from another manifest ({batch.manifest}), not from "
        f"{manifest}: name a new batch with --batch, or carry on with it by "
        f"`seedream-batch resume {batch.id}`"
    )
