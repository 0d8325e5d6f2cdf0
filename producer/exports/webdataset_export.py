"""WebDataset: tar shards (`shard-000000.tar`, ...) of `<sample>.jpg` + `<sample>.json` per image.

WebDataset groups a tar's files into samples by the name before the first dot, and needs a
sample's files next to each other. A job key may hold dots and slashes, so the sample key is the
image's position in the export, zero-padded (`000000042`); the json (the JSONL row) keeps the job's
real key, and its `image_index` tells a job's images apart.
"""

import io
import tarfile
from contextlib import ExitStack
from pathlib import PurePosixPath
from types import TracebackType
from typing import IO, Any

from producer.exports.destination import Destination, ImageSource
from producer.exports.reading import BatchRows
from producer.exports.result import ExportResult
from producer.exports.rows import json_line


def export_webdataset(
    rows: BatchRows, destination: Destination, source: ImageSource, shard_size: int
) -> ExportResult:
    samples = missing = 0
    with ShardWriter(destination, shard_size) as shards:
        for row in rows.rows(succeeded_only=True):
            with source.open(row["output_uri"]) as found:
                if found is None:
                    missing += 1
                    continue
                image, size = found
                sample = f"{samples:09d}"
                extension = PurePosixPath(row["output_uri"]).suffix or ".jpg"
                record = json_line(row).encode()
                shards.add(
                    [
                        (sample + extension, image, size),
                        (sample + ".json", io.BytesIO(record), len(record)),
                    ]
                )
            samples += 1
    return ExportResult(
        rows=samples,
        images=samples,
        bytes=shards.bytes_written,
        location=destination.root,
        missing_images=missing,
    )


class ShardWriter:
    """Writes samples into shards of `shard_size`, each put in place once it is full."""

    def __init__(self, destination: Destination, shard_size: int) -> None:
        if shard_size < 1:
            raise ValueError(f"a shard holds at least one sample, not {shard_size}")
        self.destination = destination
        self.shard_size = shard_size
        self.bytes_written = 0
        self._shards = 0
        self._in_shard = 0
        self._open: ExitStack | None = None
        self._tar: tarfile.TarFile | None = None
        self._file: IO[bytes] | None = None

    def add(self, files: list[tuple[str, IO[bytes], int]]) -> None:
        """One sample: its files (name, body, size), written next to each other."""
        if self._tar is None or self._in_shard == self.shard_size:
            self._close_shard()
            self._open_shard()
        assert self._tar is not None
        for name, body, size in files:
            member = tarfile.TarInfo(name)
            member.size = size
            member.mode = 0o644
            self._tar.addfile(member, body)
        self._in_shard += 1

    def _open_shard(self) -> None:
        stack = ExitStack()
        name = f"shard-{self._shards:06d}.tar"
        self._file = stack.enter_context(self.destination.new_file(name, "application/x-tar"))
        self._tar = stack.enter_context(tarfile.open(fileobj=self._file, mode="w"))
        self._open, self._shards, self._in_shard = stack, self._shards + 1, 0

    def _close_shard(self, *exc_info: Any) -> None:
        if self._open is None:
            return
        assert self._tar is not None
        assert self._file is not None
        if not exc_info:
            self._tar.close()  # its end blocks count in the shard's size
            self.bytes_written += self._file.tell()
        self._open.__exit__(*(exc_info or (None, None, None)))
        self._open = self._tar = self._file = None

    def __enter__(self) -> "ShardWriter":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self._close_shard()
        else:
            self._close_shard(exc_type, exc, traceback)
