"""Looking at a manifest before anything is recorded: a manifest that would make a batch of
nothing, or that `--strict` refuses, leaves no batch behind (its name stays free for the fixed
manifest) and exits 2.

* Always: rows are read until the first valid one. A manifest with none (empty, or every row
  bad) is refused. This usually reads one row.
* With `--strict`: the whole manifest is loaded first into a scratch results table (SQLite, in a
  temporary folder), by the very loader that records the batch, so every check it makes (fields,
  duplicate keys, whatever the loader refuses) is made before the real table is touched. Memory
  stays flat: both passes stream the file in chunks; the scratch table is on disk.
* With `count` (a `--max-cost` the batch must fit): every row is read and its jobs and images
  counted (`producer.job_count`), so the estimate can refuse the batch before it is recorded.

The rows rejected while screening are reported then (stderr, the rejects file); the load that
follows does not report them again (see `Screening.reported`).
"""

from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory

from jobs.database import open_engine
from jobs.models import ModelAdapter
from jobs.results import ResultsTable
from jobs.wording import counted
from producer.job_count import JobCount, count_jobs
from producer.loader import OnReject, load_manifest
from producer.manifest import ManifestError, ManifestReader, RejectedRow
from producer.progress import LoadingProgress

#: the scratch batch's name and model: nothing reads them
_SCRATCH = "strict-check"


@dataclass(frozen=True)
class Screening:
    """What screening found and already reported."""

    #: rejected rows already reported, in manifest order: the first rejections of the load
    reported: int
    #: the jobs and images of the whole manifest, when they were asked for
    count: JobCount | None = None


def screen_manifest(
    manifest: Path,
    on_reject: OnReject,
    *,
    strict: bool,
    show_progress: bool = False,
    model: ModelAdapter | None = None,
    variants: int = 1,
    count: bool = False,
) -> Screening:
    """Refuse (ManifestError) a manifest with no valid row, or, with `strict`, any bad row; rows
    are validated for `model`, the batch's (default DEFAULT_MODEL's), each asking for `variants`
    images unless it says. With `count`, the Screening has the manifest's jobs and images."""
    reading = _Reading(manifest, model, variants)
    if strict:
        screening = _check_every_row(reading, on_reject, show_progress)
        if count:  # every bad row was reported: this pass only counts
            with reading.open() as reader:
                return Screening(screening.reported, count_jobs(reader, _reported_already))
        return screening
    if count:
        return _count_every_row(reading, on_reject)
    return _find_a_valid_row(reading, on_reject)


@dataclass(frozen=True)
class _Reading:
    """The manifest, and how the batch reads it."""

    manifest: Path
    model: ModelAdapter | None
    variants: int

    def open(self) -> ManifestReader:
        return ManifestReader(self.manifest, model=self.model, variants=self.variants)


def _find_a_valid_row(reading: _Reading, on_reject: OnReject) -> Screening:
    reported = 0
    manifest = reading.manifest
    with reading.open() as reader:
        for row in reader:
            if not isinstance(row, RejectedRow):
                return Screening(reported)
            on_reject(row)
            reported += 1
    raise _no_valid_row(manifest, reported)


def _count_every_row(reading: _Reading, on_reject: OnReject) -> Screening:
    with reading.open() as reader:
        count = count_jobs(reader, on_reject)
    if not count.jobs:
        raise _no_valid_row(reading.manifest, count.rejected)
    return Screening(count.rejected, count)


def _check_every_row(reading: _Reading, on_reject: OnReject, show_progress: bool) -> Screening:
    manifest = reading.manifest
    with TemporaryDirectory(prefix="seedream-strict-") as folder:
        scratch = ResultsTable(open_engine(f"sqlite:///{Path(folder) / 'check.db'}"))
        try:
            scratch.create_schema()
            batch = scratch.create_batch(_SCRATCH, str(manifest), folder, _SCRATCH)
            with (
                reading.open() as reader,
                LoadingProgress(reader, show_progress) as progress,
            ):
                report = load_manifest(
                    scratch, batch, reader, _wake_nobody, on_reject, progress=progress
                )
        finally:
            scratch.engine.dispose()
    if report.rejected:
        rows = counted(report.rejected, "bad row")
        raise ManifestError(
            manifest, f"{rows}; --strict refused the whole manifest: nothing was recorded"
        )
    if not report.loaded:
        raise _no_valid_row(manifest, 0)
    return Screening(0)


def _no_valid_row(manifest: Path, rejected: int) -> ManifestError:
    if rejected:
        return ManifestError(
            manifest, f"has no valid row ({rejected:,} rejected): nothing was recorded"
        )
    return ManifestError(manifest, "has no rows: nothing was recorded")


def _reported_already(row: RejectedRow) -> None:
    """The strict pass reported every bad row."""


def _wake_nobody() -> None:
    """The scratch table's jobs are only checked, never run."""
