"""What `run` and `submit` share: open the table, find or create the batch, load the manifest.

Nothing is recorded until the manifest is known to make a batch (`producer.screening`) and the
broker answers; a batch name is resumed only with the manifest it was made from.
"""

import hashlib
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from config.settings import Settings
from jobs.batch_names import new_batch_id, validate_name
from jobs.database import open_engine
from jobs.dispatch import Wake
from jobs.models import ModelAdapter, UnknownModel, model_named
from jobs.records import EQUAL_SHARE, Share
from jobs.results import Batch, ResultsTable
from producer.loader import LoadReport, load_manifest, strict_batch_loading
from producer.manifest import ManifestReader, RejectedRow
from producer.progress import LoadingProgress
from producer.rejects import RejectsWriter
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
    (a resumed batch takes the new values). `show_progress` shows a live bar while the manifest
    loads. A batch made by `schedule` is never resumed: if its name exists, BatchExists is
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
        with _reject_sink(manifest, rejects, adapter) as on_reject:
            screening = screen_manifest(
                manifest,
                on_reject,
                strict=strict,
                show_progress=show_progress,
                model=adapter,
                variants=reader.variants,
            )
            check_broker()
            batch = table.create_batch(
                batch_name or new_batch_id(manifest),
                source or str(manifest),
                output,
                adapter.name,
                price_per_image=settings.price_for(adapter.name),
                max_images=max_images,
                max_cost=max_cost,
                schedule=schedule,
                manifest_sha256=digest,
                share=share or EQUAL_SHARE,
                variants=reader.variants,
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


@contextmanager
def _reject_sink(
    manifest: Path, rejects: Path | None, model: ModelAdapter
) -> Iterator["_RejectSink"]:
    if rejects is None:
        yield _RejectSink(None)
        return
    with RejectsWriter.for_manifest(manifest, rejects, model) as writer:
        yield _RejectSink(writer)


class _RejectSink:
    """Reports every bad row on stderr, and writes it to the rejects file when one is named."""

    def __init__(self, writer: RejectsWriter | None) -> None:
        self.writer = writer
        self._skipping = 0

    def skip(self, rows: int) -> None:
        """Let the next `rows` rejections pass unreported: they were reported already."""
        self._skipping = rows

    def __call__(self, row: RejectedRow) -> None:
        if self._skipping:
            self._skipping -= 1
            return
        print(row, file=sys.stderr)
        if self.writer is not None:
            self.writer.write(row)
