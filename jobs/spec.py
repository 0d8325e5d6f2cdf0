"""One manifest row made valid: its key, the model's input, and the metadata it carries.

The input is validated by the batch's model (jobs.models): the producer validates manifest rows
with it, the worker reads rows back with it, and the emulator validates requests with it.
"""

import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from jobs.keys import validate_key
from jobs.models.adapter import ModelInput
from jobs.quoting import quoted

#: The most a row's metadata may weigh, as JSON (UTF-8 bytes). Metadata is captions and labels
#: carried to the output; the row limit leaves room for a 10 MB inline image, and without this a
#: row of megabytes of "caption" would be stored in the results table a million times over.
MAX_METADATA_BYTES = 64 * 1024
#: The most values a row's metadata may hold: its columns, and every list item and object member
#: inside them. Captions and labels need tens. Its size as JSON does not bound its memory: 49 KB
#: of `[[], [], ...]` is 16,000 Python lists, 1 MB, and a chunk of such rows took gigabytes.
MAX_METADATA_VALUES = 1000
#: How deep lists and objects may nest in one metadata column (`{"tags": [{"a": 1}]}` is 2 deep):
#: labels and small records need two or three; deeper is a generated structure, not metadata.
MAX_METADATA_DEPTH = 8

#: made once: json.dumps with options builds a new encoder on every call (a row costs ~2 us)
_METADATA_JSON = json.JSONEncoder(ensure_ascii=False, allow_nan=False, check_circular=False)


class JobSpec(BaseModel):
    """One manifest row made valid: its key in the batch, the call to make, the row's metadata."""

    model_config = ConfigDict(frozen=True)

    key: str
    line: int
    input: ModelInput
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("key")
    @classmethod
    def _key_is_safe(cls, key: str) -> str:
        return validate_key(key)

    @field_validator("metadata")
    @classmethod
    def _metadata_is_storable(cls, metadata: dict[str, Any]) -> dict[str, Any]:
        """Metadata goes to the results table as JSON: bounded, and free of NUL (PostgreSQL text
        cannot hold one; JSON would carry it only as a \\u0000 escape PostgreSQL refuses too)."""
        if not metadata:
            return metadata
        shape = metadata_shape(metadata)
        if shape.values > MAX_METADATA_VALUES:
            raise ValueError(
                f"holds more than {MAX_METADATA_VALUES} values, the most allowed (its columns "
                f"and every list item and object member in them; {quoted(shape.largest)} holds the "
                "most)"
            )
        if shape.depth > MAX_METADATA_DEPTH:
            raise ValueError(
                f"{quoted(shape.deepest)} nests lists and objects {shape.depth} levels deep; "
                f"at most {MAX_METADATA_DEPTH} are allowed"
            )
        try:
            text = _METADATA_JSON.encode(metadata)
        except (TypeError, ValueError, RecursionError) as exc:
            raise ValueError(f"is not JSON: {exc}") from None
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > MAX_METADATA_BYTES:
            raise ValueError(
                f"is {size} bytes as JSON (every column that is not a job field); at most "
                f"{MAX_METADATA_BYTES} are allowed"
            )
        if "\\u0000" in text and (where := _nul_in(metadata)) is not None:
            raise ValueError(f"{where} contains a NUL character (U+0000); text cannot hold it")
        return metadata


@dataclass(frozen=True)
class MetadataShape:
    """What a row's metadata holds, as far as memory goes (see MAX_METADATA_VALUES)."""

    #: columns, list items and object members, counted up to one past MAX_METADATA_VALUES
    values: int
    #: the characters of every string in it, names included
    chars: int
    #: the deepest nesting of lists and objects, and the column that has it
    depth: int
    deepest: str
    #: the column holding the most values
    largest: str


def metadata_shape(metadata: dict[str, Any]) -> MetadataShape:
    """Count what `metadata` holds, without recursion (a deep row must not overflow the stack)
    and without going on past MAX_METADATA_VALUES + 1 values (a huge one costs no more)."""
    values = chars = depth = most = 0
    deepest = largest = ""
    for column, value in metadata.items():
        before = values
        chars += len(column)
        pending: list[tuple[Any, int]] = [(value, 0)]
        while pending and values <= MAX_METADATA_VALUES:
            item, level = pending.pop()
            values += 1
            if isinstance(item, str):
                chars += len(item)
                continue
            members: list[Any] = []
            if isinstance(item, dict):
                chars += sum(map(len, item))
                members = list(item.values())
            elif isinstance(item, list):
                members = item
            else:
                continue
            if level + 1 > depth:
                depth, deepest = level + 1, column
            pending.extend((member, level + 1) for member in members[: MAX_METADATA_VALUES + 1])
        if values - before > most:
            most, largest = values - before, column
    return MetadataShape(values, chars, depth, deepest, largest)


def _nul_in(value: Any, where: str = "") -> str | None:
    """Where in `value` (`'labels'[2]`) a string or an object's name holds a NUL, if anywhere."""
    if isinstance(value, str):
        return (where or "a value") if "\x00" in value else None
    if isinstance(value, dict):
        for name, item in value.items():
            here = f"{where}[{quoted(name)}]" if where else quoted(name)
            found = here if "\x00" in name else _nul_in(item, here)
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            if (found := _nul_in(item, f"{where}[{index}]")) is not None:
                return found
    return None
