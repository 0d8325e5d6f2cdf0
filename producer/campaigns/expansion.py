"""Expanding a campaign: each data row, as it is read, becomes the manifest rows it stands for.

Streams: the data file is read a row at a time by the manifest's own readers
(`producer.manifest_formats`), and a row's combinations (at most MAX_COMBINATIONS) are the only
rows held at once, so a 10,000-product × 12-combination campaign is never 120,000 rows in memory.

A data row that cannot be expanded (a field a template reads is missing, a value that is a list)
is one problem of that row, reported at its line in the data file (`products.csv:17: name: ...`);
rows written inline in the campaign are reported at their line there. The rejects file gets the
data row's own text, in the data's format (inline rows as JSONL), to be fixed and named in data:.
"""

import json
from collections.abc import Iterator
from typing import Any, BinaryIO, NamedTuple

from jobs.quoting import quoted
from producer.binary_files import refuse_binary
from producer.campaigns.campaign_file import PROMPT_FIELD, Campaign
from producer.campaigns.templates import Template, ValueProblem
from producer.manifest_formats import (
    KEY_FIELD,
    VARIANTS_FIELD,
    CsvRecords,
    ManifestError,
    ManifestFormat,
    RowProblem,
    SourceRow,
    format_of,
    read_jsonl,
)


class ExpandedRow(NamedTuple):
    """A data row and the manifest rows it stands for, or what kept it from being expanded."""

    line: int
    #: the data row's own text, for the rejects file
    raw: str
    #: one manifest row's fields per combination of the axes
    rows: list[dict[str, Any]]
    problems: tuple[RowProblem, ...] = ()


class CampaignRows:
    """A campaign's data, open: its rows' `format` and CSV `header` (for the rejects file), the
    `path` its problems are reported at, and its rows, expanded one at a time."""

    def __init__(self, campaign: Campaign, max_row_bytes: int) -> None:
        self.campaign = campaign
        self._combinations = campaign.combinations()
        self._stream: BinaryIO | None = None
        self._csv: CsvRecords | None = None
        self.header: list[str] | None = None
        if campaign.data_path is None:
            self.path, self.format = campaign.path, ManifestFormat.jsonl
            return
        self.path, self.format = campaign.data_path, format_of(campaign.data_path)
        self._stream = _open_data(campaign)
        self._max_row_bytes = max_row_bytes
        try:
            refuse_binary(self.path, self._stream)
            if self.format is ManifestFormat.csv:
                self._csv = CsvRecords(
                    self.path, self._stream, max_row_bytes, (), needs_prompt=False
                )
                self.header = self._csv.header
                _check_columns(campaign, self.header)
        except BaseException:
            self._stream.close()
            raise

    def __iter__(self) -> Iterator[ExpandedRow]:
        for row in self._source_rows():
            yield self._expand(row)

    def _source_rows(self) -> Iterator[SourceRow]:
        if self._csv is not None:
            return iter(self._csv)
        if self._stream is not None:
            return read_jsonl(self._stream, self._max_row_bytes)
        return (_inline_source_row(row.line, row.value) for row in self.campaign.inline_rows)

    def _expand(self, row: SourceRow) -> ExpandedRow:
        if row.problem is not None:
            return ExpandedRow(row.line, row.raw, [], (row.problem,))
        campaign, data = self.campaign, row.fields
        problems = dict.fromkeys(() if self._csv is not None else _row_clashes(campaign, data))
        values = dict(data)
        if values.get(KEY_FIELD) is None:
            values[KEY_FIELD] = str(row.line)
        kept = {name: value for name, value in data.items() if name != PROMPT_FIELD}
        if campaign.id is not None:
            kept.pop(KEY_FIELD, None)
        if campaign.variants is not None and data.get(VARIANTS_FIELD) is None:
            kept[VARIANTS_FIELD] = campaign.variants
        rows = []
        for combination in self._combinations:
            values.update(combination)
            try:
                rows.append(_manifest_row(campaign, values, kept, combination))
            except ValueProblem as exc:
                problems[RowProblem(exc.field, exc.problem)] = None
        return ExpandedRow(row.line, row.raw, rows, tuple(problems))

    @property
    def size(self) -> int:
        """How much there is to read: the data file's bytes, or the inline rows."""
        if self._stream is None:
            return len(self.campaign.inline_rows)
        return self.path.stat().st_size

    @property
    def bytes_read(self) -> int:
        """How far reading has got, in the unit of `size`."""
        if self._stream is None:
            return len(self.campaign.inline_rows)
        return self._stream.tell()

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()


def _manifest_row(
    campaign: Campaign, values: dict[str, Any], kept: dict[str, Any], combination: dict[str, Any]
) -> dict[str, Any]:
    """One combination's manifest row: id and prompt first, as `expand` prints it."""
    row: dict[str, Any] = {}
    if campaign.id is not None:
        row[KEY_FIELD] = campaign.id.render(values, key_safe=True)
    row[PROMPT_FIELD] = campaign.prompt.render(values)
    row.update(kept)
    row.update(combination)
    for name, value in campaign.fixed:
        row[name] = value.render(values) if isinstance(value, Template) else value
    return row


def _open_data(campaign: Campaign) -> BinaryIO:
    assert campaign.data_path is not None
    try:
        return campaign.data_path.open("rb")
    except FileNotFoundError:
        raise ManifestError(campaign.path, f"data: {campaign.data_path} does not exist") from None
    except OSError as exc:
        raise ManifestError(campaign.data_path, f"cannot be read: {exc.strerror}") from None


def _check_columns(campaign: Campaign, header: list[str]) -> None:
    """A CSV's columns, judged once: every field a template reads is one, none is set by the
    campaign too."""
    columns = set(header) | {KEY_FIELD}
    data = campaign.data_path
    for name in sorted(campaign.row_fields_read - columns):
        found = ", ".join(quoted(column) for column in header if column)
        raise ManifestError(
            campaign.path,
            f"{{{name}}}: is not a column of {data} (it has {found}) nor an axis of vary",
        )
    if clash := _clashes(campaign, set(header)):
        raise ManifestError(
            campaign.path,
            f"{clash[0][0]}: {data} has a column {clash[0][1]} "
            "too: rename the column or the campaign's field",
        )


def _clashes(campaign: Campaign, names: set[str] | dict[str, Any]) -> list[tuple[str, str]]:
    """Where the campaign sets a field the data row has too (`vary.style`, `fixed.size`), and the
    field: which of the two a template reads, and which one the job gets, would be a guess."""
    return [
        (f"{where}.{name}", name)
        for where, fields in (("vary", campaign.axes), ("fixed", campaign.fixed))
        for name, _ in fields
        if name in names
    ]


def _row_clashes(campaign: Campaign, data: dict[str, Any]) -> list[RowProblem]:
    name = campaign.path.name
    return [
        RowProblem(field, f"is set by {where} in {name} too: rename the field")
        for where, field in _clashes(campaign, data)
    ]


def _inline_source_row(line: int, value: Any) -> SourceRow:
    """A row written in the campaign file, as a manifest row read from JSONL would be."""
    raw = json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, dict) and all(isinstance(name, str) for name in value):
        return SourceRow(line, raw, value)
    problem = "is not a mapping of field names to values, such as {sku: A1, name: Red shoe}"
    return SourceRow(line, raw, {}, RowProblem("row", problem))
