"""What `run` and `submit` share: open the table, find or create the batch, load the manifest."""

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from config.settings import Settings
from jobs.database import open_engine
from jobs.recovery import Enqueue
from jobs.results import Batch, ResultsTable
from producer.batch_control import resume_batch
from producer.batches import new_batch_id, validate_batch_id
from producer.loader import LoadReport, load_manifest
from producer.manifest import ManifestReader, RejectedRow
from producer.progress import LoadingProgress
from producer.rejects import RejectsWriter


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
    enqueue: Enqueue,
    strict: bool = False,
    rejects: Path | None = None,
    show_progress: bool = False,
    max_images: int | None = None,
    max_cost: float | None = None,
    schedule: str | None = None,
    source: str | None = None,
) -> Submission:
    """Load `manifest` as a new batch, or resume the batch `batch_name` if it exists.

    Resuming re-enqueues every job that is not final and not under a live lease (see
    `producer.batch_control.resume_batch`). `max_images` and `max_cost` set the batch's budget
    (a resumed batch takes the new values). `show_progress` shows a live bar while the manifest
    loads. A batch made by `schedule` is never resumed: if its name exists, BatchExists is
    raised (by the insert, so two processes making it at once make it once). `source` is what
    the batch records as its manifest when `manifest` is a local copy (of an s3:// one).
    """
    if batch_name is not None:
        try:
            validate_batch_id(batch_name)
        except ValueError as exc:
            raise SubmissionError(str(exc)) from None
        existing = table.get_batch(batch_name) if schedule is None else None
        if existing is not None:
            resumed = resume_batch(
                table,
                existing,
                enqueue,
                max_attempts=settings.max_attempts,
                max_images=max_images,
                max_cost=max_cost,
            )
            return Submission(table.get_batch(existing.id) or existing, None, resumed)
    # opened before the batch is recorded: a manifest that cannot be read leaves nothing behind
    with ManifestReader(manifest) as reader, _reject_sink(manifest, rejects) as on_reject:
        batch = table.create_batch(
            batch_name or new_batch_id(manifest),
            source or str(manifest),
            output,
            settings.model,
            price_per_image=settings.price_per_image,
            max_images=max_images,
            max_cost=max_cost,
            schedule=schedule,
        )
        with LoadingProgress(reader, show_progress) as progress:
            report = load_manifest(
                table, batch, reader, enqueue, on_reject, strict=strict, progress=progress
            )
    return Submission(table.get_batch(batch.id) or batch, report)


@contextmanager
def _reject_sink(manifest: Path, rejects: Path | None) -> Iterator["_RejectSink"]:
    if rejects is None:
        yield _RejectSink(None)
        return
    with RejectsWriter.for_manifest(manifest, rejects) as writer:
        yield _RejectSink(writer)


class _RejectSink:
    """Reports every bad row on stderr, and writes it to the rejects file when one is named."""

    def __init__(self, writer: RejectsWriter | None) -> None:
        self.writer = writer

    def __call__(self, row: RejectedRow) -> None:
        print(row, file=sys.stderr)
        if self.writer is not None:
            self.writer.write(row)
