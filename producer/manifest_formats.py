"""The two manifest formats: from a file's bytes to rows of fields, one row at a time.

Both read the file as bytes, one bounded line at a time, so memory stays flat whatever the size of
the manifest and one bad line (not UTF-8, a NUL byte, far too long, broken JSON or quoting) costs
only that row. What a row means (the job it describes) is `producer.manifest`'s business.

* JSONL (`.jsonl`, `.ndjson`): one JSON object per line; blank lines are skipped.
* CSV (`.csv`): a header row naming the columns, then one record per row; a quoted cell may span
  lines. An empty cell is a field not given, and a record whose cells are all empty is skipped
  like a blank line (spreadsheets pad files with them).

Rows are numbered by the physical line they start on (1-based), as an editor shows them.
"""

import csv
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from jobs.models.input_rules import MAX_INPUT_IMAGE_BYTES
from jobs.quoting import QUOTED_CHARS, quoted
from jobs.spec import MAX_METADATA_VALUES

#: the longest row read: room for the largest input image the spec allows as a base64 data URI,
#: plus 1 MiB for the prompt and metadata. A longer row is rejected unread and reading goes on.
MAX_ROW_BYTES = MAX_INPUT_IMAGE_BYTES * 4 // 3 + 1024 * 1024
#: how much of an overlong line is read at a time while skipping the rest of it
_SKIP_CHUNK = 64 * 1024
_BOM = b"\xef\xbb\xbf"
#: the column / key that names a job's key in the batch
KEY_FIELD = "id"
#: the column / key that names the model a row is for: never metadata, and it must be the
#: batch's (a batch has one model)
MODEL_FIELD = "model"
#: the column / key that asks for several images of the row (jobs.variants): never metadata
VARIANTS_FIELD = "variants"
#: The most `[`, `{` and `,` a JSONL row may hold outside its strings: a bracket and a comma for
#: each metadata value, a comma for each field. A row with more cannot be valid, and is refused
#: before it is decoded: 49 KB of `[],[],...` would be 16,000 Python lists (1 MB), 14 MB of them
#: 300 MB, and decoding them is most of the time such a row costs.
MAX_ROW_STRUCTURE = 2 * MAX_METADATA_VALUES + 64
#: a JSON string (escapes included; unrolled so that a 13 MB data URI is one fast run), or one
#: of the characters that open a value or separate two
_STRING_OR_STRUCTURE = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[{,]')
#: The most columns a CSV manifest may have. A job has under ten fields, an id and a model; the
#: rest is metadata, which is bounded by MAX_METADATA_BYTES anyway. A thousand is far beyond any
#: sheet written by hand, and refuses at once a header of a million empty cells that every row would
#: otherwise be zipped against.
MAX_COLUMNS = 1000


class ManifestFormat(StrEnum):
    """A manifest's format, chosen by its file name's extension."""

    jsonl = "jsonl"
    csv = "csv"


_EXTENSIONS = {
    ".jsonl": ManifestFormat.jsonl,
    ".ndjson": ManifestFormat.jsonl,
    ".csv": ManifestFormat.csv,
}


class ManifestError(Exception):
    """The whole manifest cannot be read (missing, unknown format, unusable CSV header)."""

    def __init__(self, path: Path | str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


@dataclass(frozen=True)
class RowProblem:
    """One thing wrong with a row: the field it is in, and what is wrong and what is allowed."""

    field: str
    problem: str


class SourceRow(NamedTuple):
    """One row as its format read it: its fields, or the problem that kept it from being read.

    A NamedTuple, as `_Line` is: one is made per row, and a frozen dataclass's __init__ cost
    three times as much (each field set through object.__setattr__)."""

    line: int
    #: the row's original text (line terminator excluded); undecodable bytes are kept as
    #: surrogate escapes so writing it back with errors="surrogateescape" restores them
    raw: str
    fields: dict[str, Any]
    problem: RowProblem | None = None


def format_of(path: Path, also: str = "") -> ManifestFormat:
    """The format `path`'s extension names, else ManifestError listing the allowed extensions
    (and what `also` adds: ", or a campaign file")."""
    try:
        return _EXTENSIONS[path.suffix.lower()]
    except KeyError:
        allowed = ", ".join(_EXTENSIONS)
        given = path.suffix or "(no extension)"
        problem = f"unknown manifest format {quoted(given)}: use one of {allowed}{also}"
        raise ManifestError(path, problem) from None


class _Line(NamedTuple):
    number: int
    #: the line without its terminator; only its first MAX_ROW_BYTES when it is longer
    data: bytes
    terminator: bytes
    #: the whole line's length in bytes, terminator excluded
    length: int


def _lines(stream: BinaryIO, max_bytes: int) -> Iterator[_Line]:
    """The file's physical lines, none of them held whole in memory when over `max_bytes`."""
    number = 0
    while chunk := stream.readline(max_bytes + 2):
        number += 1
        if number == 1 and chunk.startswith(_BOM):
            chunk = chunk[len(_BOM) :]
        length, tail = len(chunk), chunk
        while not tail.endswith(b"\n") and length > max_bytes:
            rest = stream.readline(_SKIP_CHUNK)
            if not rest:
                break
            length += len(rest)
            tail = tail[-1:] + rest
        terminator = b"\r\n" if tail.endswith(b"\r\n") else b"\n" if tail.endswith(b"\n") else b""
        length -= len(terminator)
        yield _Line(number, chunk[: min(length, max_bytes)], terminator, length)


def _decode(data: bytes) -> tuple[str, RowProblem | None]:
    """`data` as text, and a problem if it is not UTF-8 (the text then keeps surrogate escapes)."""
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        where = f"byte 0x{data[exc.start]:02x} at byte {exc.start + 1} of the line"
        problem = RowProblem("row", f"is not valid UTF-8 ({where}): save the manifest as UTF-8")
        return data.decode("utf-8", "surrogateescape"), problem


def _too_long(length: int, max_bytes: int) -> RowProblem:
    return RowProblem(
        "row", f"is {length} bytes long; at most {max_bytes} are allowed, so it was not read"
    )


_NUL = RowProblem("row", "contains a NUL byte; a manifest is text")


# ---------------------------------------------------------------- JSONL


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                raise _DuplicateKey(name)
            seen.add(name)
    return obj


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


#: made once: json.loads with hooks builds a new decoder for every row
_ROW_DECODER = json.JSONDecoder(object_pairs_hook=_unique_keys, parse_constant=_no_constant)


def _bad_text_in_row(row: dict[str, Any]) -> RowProblem | None:
    """A problem, on the field that holds it, when a string decoded from a \\u escape is a NUL
    (PostgreSQL text cannot store one) or a lone surrogate (not text at all)."""
    for name, value in row.items():
        if (problem := _bad_text(name)) is not None:
            return RowProblem("row", f"a key {problem}")
        if (problem := _bad_text(value)) is not None:
            shown = name.isprintable() and len(name) <= QUOTED_CHARS
            return RowProblem(name if shown else quoted(name), problem)
    return None


def _bad_text(value: Any) -> str | None:
    if isinstance(value, str):
        if "\x00" in value:
            return "contains a NUL character (a \\u0000 escape); text cannot hold it"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "contains a lone surrogate \\u escape; it is not text"
        return None
    if isinstance(value, dict):
        items: list[Any] = [*value, *value.values()]
    elif isinstance(value, list):
        items = value
    else:
        return None
    return next((p for item in items if (p := _bad_text(item)) is not None), None)


def _json_kind(value: Any) -> str:
    kinds = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return kinds.get(type(value), "a number")


def _parse_json_row(number: int, text: str) -> SourceRow:
    problem: RowProblem | None
    if len(text) > MAX_ROW_STRUCTURE and _too_structured(text):
        problem = RowProblem(
            "row",
            f"has more than {MAX_ROW_STRUCTURE} brackets and commas outside its strings, more "
            f"than a valid row can (its metadata holds at most {MAX_METADATA_VALUES} values), "
            "so it was not decoded",
        )
        return SourceRow(number, text, {}, problem)
    try:
        value = _ROW_DECODER.decode(text)
        problem = _bad_text_in_row(value) if "\\u" in text and isinstance(value, dict) else None
    except json.JSONDecodeError as exc:
        problem = RowProblem("row", f"is not valid JSON: {exc.msg} at column {exc.colno}")
    except _DuplicateKey as exc:
        problem = RowProblem("row", f"key {quoted(exc.args[0])} appears twice in an object")
    except ValueError as exc:
        problem = RowProblem("row", f"is not valid JSON: {exc}")
    except RecursionError:
        problem = RowProblem("row", "is nested too deeply to read")
    else:
        if not isinstance(value, dict):
            problem = RowProblem(
                "row",
                f"is {_json_kind(value)}; each line must be one JSON object, "
                'such as {"prompt": "a red bicycle"}',
            )
        elif problem is None:
            return SourceRow(number, text, value)
    return SourceRow(number, text, {}, problem)


def _too_structured(text: str) -> bool:
    """Whether the text holds more than MAX_ROW_STRUCTURE `[`, `{` and `,` outside its strings
    (about the number of values it decodes to); stops counting there, copying nothing."""
    structure = 0
    for token in _STRING_OR_STRUCTURE.finditer(text):
        if text[token.start()] != '"':
            structure += 1
            if structure > MAX_ROW_STRUCTURE:
                return True
    return False


def read_jsonl(stream: BinaryIO, max_bytes: int) -> Iterator[SourceRow]:
    """Every non-blank line of a JSONL manifest, parsed, or with the problem that stopped it."""
    for line in _lines(stream, max_bytes):
        text, problem = _decode(line.data)
        if line.length > max_bytes:
            problem = _too_long(line.length, max_bytes)
        elif problem is None and b"\x00" in line.data:
            problem = _NUL
        if problem is not None:
            yield SourceRow(line.number, text, {}, problem)
        elif text and not text.isspace():
            yield _parse_json_row(line.number, text)


# ---------------------------------------------------------------- CSV


class _RecordTooLong(Exception):
    pass


class _RecordLines:
    """The iterator `csv.reader` reads: decoded lines, noting what the record being read spans.

    Not a generator: it raises _RecordTooLong out of the csv reader and is read on afterwards.
    """

    def __init__(self, lines: Iterator[_Line], max_bytes: int) -> None:
        self._lines = lines
        self._max_bytes = max_bytes
        self.start_record()

    def start_record(self) -> None:
        self.first_line = 0
        self.taken: list[str] = []
        self.size = 0
        self.problem: RowProblem | None = None

    def __iter__(self) -> "_RecordLines":
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.first_line = self.first_line or line.number
        text, problem = _decode(line.data)
        text += line.terminator.decode()
        self.taken.append(text)
        self.size += line.length + len(line.terminator)
        if problem is None and b"\x00" in line.data:
            problem = _NUL
        self.problem = self.problem or problem
        if self.size > self._max_bytes:
            raise _RecordTooLong(self.size)
        return text

    @property
    def raw(self) -> str:
        text = "".join(self.taken)
        return text.removesuffix("\n").removesuffix("\r")


#: csv's own messages, and what they mean to a person who wrote the file
_CSV_ERRORS = {
    "',' expected after '\"'": "a quoted cell must end at its closing quote (write a quote inside "
    'a quoted cell as two quotes: "")',
    "unexpected end of data": "a quoted cell is never closed: its quote runs to the end of the "
    "file",
    "new-line character seen in unquoted field - do you need to open the file with newline=''?": (
        "a carriage return (\\r) inside an unquoted cell: quote the cell or remove it"
    ),
}


class CsvRecords:
    """A CSV manifest's header (read when made) and its records after it; `fields` are the input
    fields of the batch's model, which a header that lacks `prompt` is told of (a campaign's data
    table, whose prompt is a template, `needs_prompt` not).

    Raises the csv module's (process-wide) cell size limit to the row limit, so that one cell may
    hold an inline image; the row limit still bounds every record.
    """

    def __init__(
        self,
        path: Path,
        stream: BinaryIO,
        max_bytes: int,
        fields: Sequence[str],
        *,
        needs_prompt: bool = True,
    ) -> None:
        csv.field_size_limit(max(csv.field_size_limit(), max_bytes))
        self._fields = fields
        self._needs_prompt = needs_prompt
        self._max_bytes = max_bytes
        self._lines = _RecordLines(_lines(stream, max_bytes), max_bytes)
        self._reader = csv.reader(self._lines, strict=True)
        self.header = self._read_header(path)

    def _read_header(self, path: Path) -> list[str]:
        rows = self._records()
        first = next(rows, None)
        if first is None:
            raise ManifestError(
                path, "is empty: a CSV manifest starts with a header row naming its columns"
            )
        line, cells, problem = first
        if problem is not None:
            raise ManifestError(path, f"line {line}: the header row {problem.problem}")
        if len(cells) > MAX_COLUMNS:
            raise ManifestError(
                path,
                f"line {line}: the header row has {len(cells)} columns; at most {MAX_COLUMNS} "
                "are allowed (the job's fields, its id and metadata columns)",
            )
        header = [name.strip() for name in cells]
        named = [name for name in header if name]
        seen: set[str] = set()
        for name in named:
            if name in seen:
                twice = f"line {line}: column {quoted(name)} is named twice in the header"
                raise ManifestError(path, twice)
            seen.add(name)
        if self._needs_prompt and "prompt" not in header:
            found = ", ".join(quoted(name) for name in named[:10])
            columns = ", ".join([*self._fields, KEY_FIELD, VARIANTS_FIELD, MODEL_FIELD])
            raise ManifestError(
                path,
                f"line {line}: the header row has no 'prompt' column (it has {found}); the "
                f"first row of a CSV manifest names the columns ({columns}; any other column is "
                "metadata)",
            )
        return header

    def _records(self) -> Iterator[tuple[int, list[str], RowProblem | None]]:
        while True:
            self._lines.start_record()
            try:
                cells = next(self._reader)
            except StopIteration:
                return
            except _RecordTooLong as exc:
                too_long = _too_long(exc.args[0], self._max_bytes).problem
                problem = RowProblem("row", f"{too_long} (is a quote left open?)")
                yield self._lines.first_line, [], problem
                continue
            except csv.Error as exc:
                message = _CSV_ERRORS.get(str(exc), str(exc))
                yield self._lines.first_line, [], RowProblem("row", f"is not valid CSV: {message}")
                continue
            if self._lines.problem is not None:
                yield self._lines.first_line, [], self._lines.problem
            elif any(cells):
                yield self._lines.first_line, cells, None

    def __iter__(self) -> Iterator[SourceRow]:
        width = len(self.header)
        for line, cells, problem in self._records():
            raw = self._lines.raw
            if problem is None and len(cells) > width:
                problem = RowProblem("row", f"has {len(cells)} cells, the header has {width}")
            if problem is not None:
                yield SourceRow(line, raw, {}, problem)
                continue
            named = zip(self.header, cells, strict=False)
            unnamed = [i for i, (name, cell) in enumerate(named, 1) if cell and not name]
            if unnamed:
                problem = RowProblem(f"column {unnamed[0]}", "has a value but no header name")
                yield SourceRow(line, raw, {}, problem)
                continue
            fields = {name: cell for name, cell in zip(self.header, cells, strict=False) if cell}
            yield SourceRow(line, raw, fields)
