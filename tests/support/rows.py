"""Manifest files written for a test, and what reading them gives: jobs, or problems by field."""

import json
from pathlib import Path

from jobs.models import ModelAdapter
from jobs.models.seedream_4_0 import Seedream40Input
from jobs.spec import JobSpec
from producer.manifest import MAX_ROW_BYTES, RejectedRow, read_manifest


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    """`content` as the file `name` in `tmp_path`, byte for byte (no newline translation)."""
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8", newline="")
    else:
        path.write_bytes(content)
    return path


def jsonl(*rows: dict[str, object]) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


def rows(
    path: Path, *, max_row_bytes: int = MAX_ROW_BYTES, model: ModelAdapter | None = None
) -> list[JobSpec | RejectedRow]:
    """Every row of the manifest, read for `model` (default DEFAULT_MODEL's)."""
    return list(read_manifest(path, model=model, max_row_bytes=max_row_bytes))


def problems(row: JobSpec | RejectedRow) -> dict[str, str]:
    """A rejected row's problems, by field."""
    assert isinstance(row, RejectedRow), row
    return {p.field: p.problem for p in row.problems}


def only_job(path: Path, model: ModelAdapter | None = None) -> JobSpec:
    (row,) = rows(path, model=model)
    assert isinstance(row, JobSpec), str(row)
    return row


def only_rejection(
    path: Path, *, max_row_bytes: int = MAX_ROW_BYTES, model: ModelAdapter | None = None
) -> RejectedRow:
    (row,) = rows(path, max_row_bytes=max_row_bytes, model=model)
    assert isinstance(row, RejectedRow), row
    return row


def seedream40(job: JobSpec) -> Seedream40Input:
    """The job's input as Seedream 4.0's, which a manifest read for that model holds."""
    assert isinstance(job.input, Seedream40Input), job.input
    return job.input
