"""Manifest files written for a test, and what reading them gives: jobs, or problems by field."""

import json
from pathlib import Path

from jobs.models.seedream_4_0 import Seedream40Input
from jobs.spec import JobSpec
from producer.manifest import RejectedRow, read_manifest


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


def rows(path: Path, **options: int) -> list[JobSpec | RejectedRow]:
    return list(read_manifest(path, **options))


def problems(row: JobSpec | RejectedRow) -> dict[str, str]:
    """A rejected row's problems, by field."""
    assert isinstance(row, RejectedRow), row
    return {p.field: p.problem for p in row.problems}


def only_job(path: Path) -> JobSpec:
    (row,) = rows(path)
    assert isinstance(row, JobSpec), str(row)
    return row


def only_rejection(path: Path, **options: int) -> RejectedRow:
    (row,) = rows(path, **options)
    assert isinstance(row, RejectedRow), row
    return row


def seedream40(job: JobSpec) -> Seedream40Input:
    """The job's input as Seedream 4.0's, which a manifest read for that model holds."""
    assert isinstance(job.input, Seedream40Input), job.input
    return job.input
