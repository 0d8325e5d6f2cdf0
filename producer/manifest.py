"""Reading a manifest: every row becomes a valid `JobSpec` or a `RejectedRow` saying what is wrong.

A row's fields are those of the batch's model (`jobs.models`; validated by it, never by rules
copied here).
An `image` that is a file path is read from the manifest's folder and sent inline
(`producer.local_images`).
`id` is the job's key in the batch (default: the row's line number, "17"); uniqueness is the
results table's to check; keys that differ but would collide in storage (`Hero` and `hero`, `x`
and `x.jpg/y`) are refused here (`producer.key_collisions`). Every other column or key is the
job's metadata and travels to the output: strings from a CSV, JSON values as they are from
JSONL. In a CSV an empty cell is a field not given, metadata included; in JSONL `null` is a field
not given (so `"id": null` takes the default key) and an empty string is a value (so `"id": ""` is
a bad key).

    for row in read_manifest(Path("jobs.csv")):
        if isinstance(row, RejectedRow):
            print(row)  # jobs.csv:17: size: '5K' is not allowed: use one of 1K, 2K, 4K, custom
"""

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from jobs.models import DEFAULT_MODEL, ModelInput, model_named
from jobs.quoting import QUOTED_CHARS, quoted
from jobs.spec import JobSpec
from producer.binary_files import refuse_binary
from producer.key_collisions import KeyCollisions
from producer.local_images import LocalImageError, is_local_path, local_image_as_data_uri
from producer.manifest_formats import (
    KEY_FIELD,
    MAX_ROW_BYTES,
    CsvRecords,
    ManifestError,
    ManifestFormat,
    RowProblem,
    SourceRow,
    format_of,
    read_jsonl,
)

__all__ = [
    "KEY_FIELD",
    "MAX_ROW_BYTES",
    "ManifestError",
    "ManifestFormat",
    "ManifestReader",
    "RejectedRow",
    "RowProblem",
    "read_manifest",
]

#: the model rows are validated for
_MODEL = model_named(DEFAULT_MODEL)
#: the fields a row may give the call, in the order the model's input declares them
_INPUT_FIELDS = tuple(_MODEL.input_type.model_fields)
#: what stands for an input that failed validation while the rest of its row is checked
_INPUT_REFUSED = ModelInput(prompt="(refused)")
_RANGE_ERRORS = {"greater_than_equal", "less_than_equal", "greater_than", "less_than"}
_INTEGER_ERRORS = {"int_parsing", "int_type", "int_from_float"}
_VALUE_ERROR_PREFIXES = ("Value error, ", "Assertion failed, ")
#: what a refused local image is replaced with while the rest of its row is checked, so the row's
#: other rules (match_input_image needs an image) judge it as given; the row is rejected anyway
_REFUSED_IMAGE_STAND_IN = "https://refused-local-image.invalid/"


@dataclass(frozen=True)
class RejectedRow:
    """A row that is not a valid job: where it is, everything wrong with it, and its text."""

    path: str
    line: int
    problems: tuple[RowProblem, ...]
    #: the row's original text (JSONL: the line; CSV: the record), for the rejects file
    raw: str = field(repr=False)

    def __str__(self) -> str:
        return "\n".join(f"{self.path}:{self.line}: {p.field}: {p.problem}" for p in self.problems)


class ManifestReader:
    """An open manifest: its `format`, its CSV `header` (None for JSONL), and its rows.

    Opening reads nothing but the CSV header; iterating streams the rows one at a time. Whole-file
    problems (missing, unknown extension, no usable header) raise ManifestError when it is made.
    """

    def __init__(self, path: Path, *, max_row_bytes: int = MAX_ROW_BYTES) -> None:
        self.path = path
        self.max_row_bytes = max_row_bytes
        try:
            self._stream = path.open("rb")
        except FileNotFoundError:
            raise ManifestError(path, "no such manifest file") from None
        except OSError as exc:
            raise ManifestError(path, f"cannot be read: {exc.strerror}") from None
        try:
            self.format: ManifestFormat = format_of(path)
            refuse_binary(path, self._stream)
            self._csv: CsvRecords | None = None
            if self.format is ManifestFormat.csv:
                self._csv = CsvRecords(path, self._stream, max_row_bytes)
        except BaseException:
            self._stream.close()
            raise
        self.header: list[str] | None = None if self._csv is None else self._csv.header

    def __iter__(self) -> Iterator[JobSpec | RejectedRow]:
        rows = self._csv if self._csv is not None else read_jsonl(self._stream, self.max_row_bytes)
        folder, path = self.path.parent, str(self.path)
        collisions = KeyCollisions()
        for row in rows:
            job = _job_or_rejection(path, row, folder)
            if isinstance(job, JobSpec) and (clash := collisions.add(job.key, job.line)):
                job = RejectedRow(path, row.line, (RowProblem(KEY_FIELD, clash),), row.raw)
            yield job

    @property
    def size(self) -> int:
        """The file's size in bytes."""
        return os.fstat(self._stream.fileno()).st_size

    @property
    def bytes_read(self) -> int:
        """How far into the file reading has got, in bytes (for progress bars)."""
        return self._stream.tell()

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> "ManifestReader":
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def read_manifest(
    path: Path, *, max_row_bytes: int = MAX_ROW_BYTES
) -> Iterator[JobSpec | RejectedRow]:
    """Every row of the manifest at `path`, in order, as a JobSpec or a RejectedRow.

    Streams: one row is in memory at a time. Whole-file problems raise ManifestError now, before
    the first row; the file is closed when the rows run out (or the iterator is closed).
    """
    reader = ManifestReader(path, max_row_bytes=max_row_bytes)
    return _rows_then_close(reader)


def _rows_then_close(reader: ManifestReader) -> Iterator[JobSpec | RejectedRow]:
    with reader:
        yield from reader


def _job_or_rejection(path: str, row: SourceRow, folder: Path) -> JobSpec | RejectedRow:
    if row.problem is not None:
        return RejectedRow(path, row.line, (row.problem,), row.raw)
    key, problems = _key(row.fields.get(KEY_FIELD), row.line)
    given: dict[str, Any] = {}
    metadata: dict[str, Any] = {}
    for name, value in row.fields.items():
        if name in _INPUT_FIELDS:
            given[name] = value
        elif name != KEY_FIELD:
            metadata[name] = value
    image = given.get("image")
    if isinstance(image, str) and is_local_path(image):
        try:
            given["image"] = local_image_as_data_uri(image, folder)
        except LocalImageError as exc:
            problems.append(RowProblem("image", str(exc)))
            given["image"] = _REFUSED_IMAGE_STAND_IN
    try:
        job_input = _MODEL.parse_input(given)
    except ValidationError as exc:
        problems += [_problem(error, ("input",)) for error in exc.errors(include_url=False)]
        job_input = _INPUT_REFUSED
    try:
        job = JobSpec.model_validate(
            {"key": key, "line": row.line, "input": job_input, "metadata": metadata}
        )
    except ValidationError as exc:
        problems += [_problem(error) for error in exc.errors(include_url=False)]
    if problems:
        return RejectedRow(path, row.line, tuple(problems), row.raw)
    return job


def _key(given: Any, line: int) -> tuple[str, list[RowProblem]]:
    """The row's key (an integer id becomes its digits), or the default and why `given` is not."""
    if given is None:
        return str(line), []
    if isinstance(given, str):
        return given, []
    if isinstance(given, int) and not isinstance(given, bool):
        return str(given), []
    problem = f"{_shown(given)} is not a key: use text or a whole number"
    return str(line), [RowProblem(KEY_FIELD, problem)]


def _problem(error: ErrorDetails, within: tuple[str, ...] = ()) -> RowProblem:
    """The problem pydantic reported, named by its column (`within`: where the validated object
    sits in the row, as the location pydantic gives is relative to it)."""
    if within:
        error = {**error, "loc": (*within, *error["loc"])}
    name = _field_name(error)
    return RowProblem(name, _describe(name, error))


def _field_name(error: ErrorDetails) -> str:
    """The manifest column an error is about.

    A cross-field error of the input goes to the first field its message names that the row
    gave ("width and height are only allowed with size 'custom'" on a row giving height: height).
    """
    loc = error["loc"]
    if not loc:
        return "row"
    if loc[0] == "key":
        return KEY_FIELD
    if loc[0] == "input" and len(loc) > 1:
        return ".".join(str(part) for part in loc[1:])
    if loc == ("input",):
        given = error["input"] if isinstance(error["input"], dict) else {}
        named = sorted(
            (name not in given, m.start(), name)
            for name in _INPUT_FIELDS
            if (m := re.search(rf"\b{name}\b", error["msg"]))
        )
        return named[0][2] if named else "input"
    return ".".join(str(part) for part in loc)


def _describe(name: str, error: ErrorDetails) -> str:
    """What was given and what is allowed, in words (pydantic's own for rules it words well)."""
    kind, message, given = error["type"], error["msg"], _shown(error["input"])
    if kind == "missing":
        return "is required"
    if kind == "enum":
        members = re.findall(r"'([^']*)'", error.get("ctx", {}).get("expected", ""))
        return f"{given} is not allowed: use one of {', '.join(members)}"
    if kind in _RANGE_ERRORS:
        return f"{given} is out of range: {_allowed_range(name) or message}"
    if kind in _INTEGER_ERRORS:
        bounds = _allowed_range(name)
        return f"{given} is not a whole number" + (f": {bounds}" if bounds else "")
    if kind in {"bool_parsing", "bool_type"}:
        return f"{given} is not a yes/no value: use true or false (or yes/no, 1/0)"
    if kind == "string_type":
        return f"{given} is not text"
    if kind == "string_too_short":
        return "must not be empty"
    if message.startswith(_VALUE_ERROR_PREFIXES):
        return message.split(", ", 1)[1]
    return f"{message[:1].lower()}{message[1:]} (got {given})"


def _allowed_range(name: str) -> str | None:
    """`allowed 1024 to 4096`, read from the input field's own constraints."""
    info = _MODEL.input_type.model_fields.get(name)
    if info is None:
        return None
    bounds = {
        bound: getattr(rule, bound)
        for rule in info.metadata
        for bound in ("ge", "le")
        if hasattr(rule, bound)
    }
    if "ge" in bounds and "le" in bounds:
        return f"allowed {bounds['ge']} to {bounds['le']}"
    if "ge" in bounds:
        return f"allowed {bounds['ge']} or more"
    if "le" in bounds:
        return f"allowed up to {bounds['le']}"
    return None


def _shown(value: Any) -> str:
    """A value as a message quotes it: text in quotes, JSON values as JSON, long ones cut."""
    if isinstance(value, str):
        return quoted(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)[:QUOTED_CHARS]
    if isinstance(value, dict):
        return "an object"
    return "a list" if isinstance(value, list) else type(value).__name__
