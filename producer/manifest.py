"""Reading a manifest: every row becomes a valid `JobSpec` or a `RejectedRow` saying what is wrong.

A row's fields are those of the batch's model (`jobs.models`; validated by it, never by rules
copied here): the reader is given the model's adapter. A batch has one model, so a row may name
it in a `model` column (never metadata), and a row naming another model is rejected.
An input image (4.0's `image`, each of 4.5's `image_input`) that is a file path is read from the
manifest's folder and sent inline (`producer.local_images`). A list field (`image_input`) given
as text, as a CSV cell always is, is a JSON array or its items separated by spaces.
`id` is the job's key in the batch (default: the row's line number, "17"); a repeated key, and
keys that differ but would collide in storage (`Hero` and `hero`, `x` and `x.jpg/y`), are
refused here (`producer.key_collisions`). Every other column or key is the job's metadata and
travels to the output: strings from a CSV, JSON values as they are from JSONL. In a CSV an
empty cell is a field not given, metadata included; in JSONL `null` is a field not given (so
`"id": null` takes the default key) and an empty string is a value (so `"id": ""` is a bad
key). A `variants` column asks for several images of the row (`jobs.variants`; the
reader's `variants` for a row that does not say): the row's jobs are yielded one after another,
keyed `{id}/1` to `{id}/N`, or the row is rejected whole (`producer.row_jobs` makes a row's jobs).

A campaign file (`.yaml`, `producer.campaigns`) is read wherever a manifest is: each of its data
rows is expanded into manifest rows, whose jobs are yielded together or the data row is rejected
whole, reported at its line in the data file.

    for row in read_manifest(Path("jobs.csv")):
        if isinstance(row, RejectedRow):
            print(row)  # jobs.csv:17: size: '5K' is not allowed: use one of 1K, 2K, 4K, custom
"""

import os
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from jobs.models import DEFAULT_MODEL, ModelAdapter, model_named
from jobs.spec import JobSpec
from producer.binary_files import refuse_binary
from producer.campaigns.campaign_file import CAMPAIGN_EXTENSIONS, is_campaign, load_campaign
from producer.campaigns.expansion import CampaignRows, ExpandedRow
from producer.key_collisions import KeyCollisions
from producer.manifest_formats import (
    KEY_FIELD,
    MAX_ROW_BYTES,
    MODEL_FIELD,
    VARIANTS_FIELD,
    CsvRecords,
    ManifestError,
    ManifestFormat,
    RowProblem,
    SourceRow,
    format_of,
    read_jsonl,
)
from producer.row_jobs import RejectedRow, jobs_or_rejection

__all__ = [
    "KEY_FIELD",
    "MAX_ROW_BYTES",
    "MODEL_FIELD",
    "VARIANTS_FIELD",
    "ManifestError",
    "ManifestFormat",
    "ManifestReader",
    "RejectedRow",
    "RowProblem",
    "read_manifest",
]

#: what else `run` and `submit` read, for the message about an unknown extension
_OR_A_CAMPAIGN = f", or a campaign file ({', '.join(CAMPAIGN_EXTENSIONS)})"


class ManifestReader:
    """An open manifest: its `format`, its CSV `header` (None for JSONL), and its rows, validated
    for `model` (the batch's; default DEFAULT_MODEL's).

    Opening reads nothing but the CSV header; iterating streams the rows one at a time. Whole-file
    problems (missing, unknown extension, no usable header) raise ManifestError when it is made.
    """

    def __init__(
        self,
        path: Path,
        *,
        model: ModelAdapter | None = None,
        max_row_bytes: int = MAX_ROW_BYTES,
        variants: int = 1,
    ) -> None:
        self.path = path
        self.variants = variants
        self.model = model or model_named(DEFAULT_MODEL)
        self.max_row_bytes = max_row_bytes
        self._campaign: CampaignRows | None = None
        self._csv: CsvRecords | None = None
        if is_campaign(path):
            self._campaign = CampaignRows(load_campaign(path, self.model), max_row_bytes)
            self.format: ManifestFormat = self._campaign.format
            self.header: list[str] | None = self._campaign.header
            return
        try:
            self._stream = path.open("rb")
        except FileNotFoundError:
            raise ManifestError(path, "no such manifest file") from None
        except OSError as exc:
            raise ManifestError(path, f"cannot be read: {exc.strerror}") from None
        try:
            self.format = format_of(path, also=_OR_A_CAMPAIGN)
            refuse_binary(path, self._stream)
            if self.format is ManifestFormat.csv:
                fields = tuple(self.model.input_type.model_fields)
                self._csv = CsvRecords(path, self._stream, max_row_bytes, fields)
        except BaseException:
            self._stream.close()
            raise
        self.header = None if self._csv is None else self._csv.header

    def __iter__(self) -> Iterator[JobSpec | RejectedRow]:
        if self._campaign is not None:
            for _, jobs in self.campaign_rows():
                if isinstance(jobs, RejectedRow):
                    yield jobs
                else:
                    yield from jobs
            return
        rows = self._csv if self._csv is not None else read_jsonl(self._stream, self.max_row_bytes)
        folder, path = self.path.parent, str(self.path)
        collisions = KeyCollisions()
        for row in rows:
            jobs = jobs_or_rejection(path, row, folder, self.model, self.variants)
            if isinstance(jobs, RejectedRow):
                yield jobs
            elif clash := self._collision(collisions, jobs):
                yield RejectedRow(path, row.line, (RowProblem(KEY_FIELD, clash),), row.raw)
            elif len(jobs) == 1:  # most rows: a list iterator costs more
                yield jobs[0]
            else:
                yield from jobs

    def campaign_rows(self) -> Iterator[tuple[ExpandedRow, list[JobSpec] | RejectedRow]]:
        """A campaign's data rows, each expanded into manifest rows and then into its jobs (every
        combination's, each variant's), or rejected whole with every problem of its
        combinations, once each. ManifestError when the reader reads a manifest."""
        if self._campaign is None:
            raise ManifestError(self.path, "is a manifest, not a campaign file")
        folder, path = self._campaign.campaign.folder, str(self._campaign.path)
        collisions = KeyCollisions()
        for expanded in self._campaign:
            problems = dict.fromkeys(expanded.problems)
            jobs: list[JobSpec] = []
            for fields in expanded.rows:
                row = SourceRow(expanded.line, expanded.raw, fields)
                found = jobs_or_rejection(path, row, folder, self.model, self.variants)
                if isinstance(found, RejectedRow):
                    problems.update(dict.fromkeys(found.problems))
                else:
                    jobs += found
            if not problems and (clash := self._collision(collisions, jobs)):
                problems[RowProblem(KEY_FIELD, clash)] = None
            if problems:
                rejected = RejectedRow(path, expanded.line, tuple(problems), expanded.raw)
                yield expanded, rejected
            else:
                yield expanded, jobs

    def _collision(self, collisions: KeyCollisions, jobs: list[JobSpec]) -> str | None:
        """How the key of one of a row's jobs collides with an earlier one's in storage, if one
        does; a job that may return several images stores them in a folder named after its key."""
        first = jobs[0]
        several = self.model.most_images(first.input) > 1
        if len(jobs) == 1:
            return collisions.add(first.key, first.line, claims_folder=several)
        keys = [job.key for job in jobs]
        return collisions.add_row(keys, first.line, claims_folder=several)

    @property
    def files(self) -> tuple[Path, ...]:
        """The files the jobs are read from: the manifest, or a campaign and its data file."""
        if self._campaign is None or self._campaign.campaign.data_path is None:
            return (self.path,)
        return (self.path, self._campaign.campaign.data_path)

    @property
    def size(self) -> int:
        """The file's size in bytes (a campaign's: its data's, or its count of inline rows)."""
        if self._campaign is not None:
            return self._campaign.size
        return os.fstat(self._stream.fileno()).st_size

    @property
    def bytes_read(self) -> int:
        """How far into the file reading has got, in the unit of `size` (for progress bars)."""
        if self._campaign is not None:
            return self._campaign.bytes_read
        return self._stream.tell()

    def close(self) -> None:
        if self._campaign is not None:
            self._campaign.close()
        else:
            self._stream.close()

    def __enter__(self) -> "ManifestReader":
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def read_manifest(
    path: Path,
    *,
    model: ModelAdapter | None = None,
    max_row_bytes: int = MAX_ROW_BYTES,
    variants: int = 1,
) -> Iterator[JobSpec | RejectedRow]:
    """Every row of the manifest at `path`, in order, as its JobSpecs (one, or one per variant)
    or a RejectedRow (validated for `model`, default DEFAULT_MODEL's).

    Streams: one row is in memory at a time. Whole-file problems raise ManifestError now, before
    the first row; the file is closed when the rows run out (or the iterator is closed).
    """
    reader = ManifestReader(path, model=model, max_row_bytes=max_row_bytes, variants=variants)
    return _rows_then_close(reader)


def _rows_then_close(reader: ManifestReader) -> Iterator[JobSpec | RejectedRow]:
    with reader:
        yield from reader
