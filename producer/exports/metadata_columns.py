"""The metadata columns of a flat export (CSV, Parquet, an image folder's metadata.jsonl).

Metadata is free-form per row, but a flat file declares its columns before its first row. One
cheap pass over the batch's metadata finds every name and what its values are, so Parquet can give
each column a type (a label that is always an integer stays an integer).
"""

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

#: more metadata names than this is not a table (a row's own ids used as names, say): the flat
#: formats refuse it rather than write a file of mostly empty columns
MAX_METADATA_COLUMNS = 1000


class ValueKind(StrEnum):
    """What one metadata column holds across the batch."""

    #: true/false only
    boolean = "boolean"
    #: whole numbers only
    integer = "integer"
    #: numbers, some or all with a fraction
    number = "number"
    #: anything else, or a mix: text, lists and objects as their JSON text
    text = "text"


class TooManyMetadataColumns(ValueError):
    """The batch's metadata has more names than a flat file should have columns."""


@dataclass
class MetadataColumns:
    """Every metadata name in the batch, in the order first seen, with the kind of its values."""

    #: None while every value seen for the name was null
    kinds: dict[str, ValueKind | None] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return list(self.kinds)

    def kind(self, name: str) -> ValueKind:
        """The kind of a name's values; text when all were null."""
        return self.kinds[name] or ValueKind.text

    def cell(self, name: str, value: Any) -> Any:
        """`value` as its column holds it: a number column's integers as floats, and in a text
        column anything but a string (a number, a list, an object) as its JSON text."""
        kind = self.kind(name)
        if value is None or (kind is ValueKind.text and isinstance(value, str)):
            return value
        if kind is ValueKind.text:
            return json.dumps(value, ensure_ascii=False)
        return float(value) if kind is ValueKind.number else value

    def add(self, metadata: Mapping[str, Any]) -> None:
        """Take in one row's metadata."""
        for name, value in metadata.items():
            if value is None:
                self.kinds.setdefault(name, None)
                continue
            seen = self.kinds.get(name)
            self.kinds[name] = kind_of(value) if seen is None else widen(seen, kind_of(value))
        if len(self.kinds) > MAX_METADATA_COLUMNS:
            raise TooManyMetadataColumns(
                f"the batch's metadata has over {MAX_METADATA_COLUMNS} distinct names; "
                "export it as jsonl, which keeps each row's metadata as one object"
            )

    @classmethod
    def of(cls, rows: Iterable[Mapping[str, Any]]) -> "MetadataColumns":
        columns = cls()
        for metadata in rows:
            columns.add(metadata or {})
        return columns


def kind_of(value: Any) -> ValueKind:
    if isinstance(value, bool):
        return ValueKind.boolean
    if isinstance(value, int):
        return ValueKind.integer
    if isinstance(value, float):
        return ValueKind.number
    return ValueKind.text


def widen(seen: ValueKind, new: ValueKind) -> ValueKind:
    """The kind that holds values of both: integers and numbers are numbers, any other mix text."""
    if seen == new:
        return seen
    if {seen, new} == {ValueKind.integer, ValueKind.number}:
        return ValueKind.number
    return ValueKind.text
