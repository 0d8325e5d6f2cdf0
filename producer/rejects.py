"""The rejects file: a manifest's bad rows, in its own format, to be fixed and submitted again.

Each row is written as its original text (bytes that were not UTF-8 included), so reading the
rejects file reports the same problems as the manifest did; a CSV rejects file starts with the
manifest's header. The file is created (or emptied) when the writer opens, so a rejects file never
holds rows of an earlier run. An overlong row is written as far as it was read (about its first
MAX_ROW_BYTES).
"""

import csv
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

from jobs.models import ModelAdapter
from producer.manifest import ManifestError, ManifestFormat, ManifestReader, RejectedRow
from producer.manifest_formats import format_of


class RejectsWriter:
    """Writes rejected rows to `path`, a manifest of `manifest_format` (CSV with `csv_header`)."""

    def __init__(
        self, path: Path, manifest_format: ManifestFormat, csv_header: list[str] | None
    ) -> None:
        if format_of(path) is not manifest_format:
            kind = manifest_format.value
            problem = f"a rejects file is {kind} like its manifest: name it *.{kind}"
            raise ManifestError(path, problem)
        if manifest_format is ManifestFormat.csv and csv_header is None:
            raise ValueError("a CSV rejects file needs the manifest's header")
        self.path = path
        self.written = 0
        try:
            self._file = path.open("w", encoding="utf-8", errors="surrogateescape", newline="")
        except OSError as exc:
            raise ManifestError(path, f"cannot write the rejects file: {exc.strerror}") from None
        if csv_header is not None and manifest_format is ManifestFormat.csv:
            csv.writer(self._file, lineterminator="\n").writerow(csv_header)

    @classmethod
    def for_manifest(
        cls, manifest: Path, path: Path, model: ModelAdapter | None = None
    ) -> "RejectsWriter":
        """A writer for `manifest`'s rejected rows: its format, and its header when it is a CSV
        (read as the batch's `model` reads it)."""
        if path.exists() and manifest.exists() and path.samefile(manifest):
            raise ManifestError(path, "the rejects file must not be the manifest itself")
        with ManifestReader(manifest, model=model) as reader:
            return cls(path, reader.format, reader.header)

    def write(self, row: RejectedRow) -> None:
        """Append the row's original text as one row of the rejects file."""
        self._file.write(row.raw)
        self._file.write("\n")
        self.written += 1

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "RejectsWriter":
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


@contextmanager
def reject_sink(
    manifest: Path, rejects: Path | None, model: ModelAdapter
) -> Iterator["RejectSink"]:
    """Where a submission's bad rows go: stderr, and the file `rejects` when one is named."""
    if rejects is None:
        yield RejectSink(None)
        return
    with RejectsWriter.for_manifest(manifest, rejects, model) as writer:
        yield RejectSink(writer)


class RejectSink:
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
