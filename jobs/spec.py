"""One manifest row made valid: its key, the model's input, and the metadata it carries.

The input is validated by the batch's model (jobs.models): the producer validates manifest rows
with it, the worker reads rows back with it, and the emulator validates requests with it.

A JobSpec is a plain dataclass that checks its key and metadata when it is made, not a pydantic
model: a manifest makes one per row, and pydantic validating a model that holds an already
validated input cost ~3 µs a row (~10 µs with metadata), a tenth of what submitting a row costs.
"""

import math
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from pydantic_core import PydanticSerializationError, to_json

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


class MetadataShape(NamedTuple):
    """What a row's metadata holds: what it weighs in memory (see MAX_METADATA_VALUES) and
    whether JSON can hold it, found in one walk."""

    #: columns, list items and object members, counted up to one past MAX_METADATA_VALUES
    values: int
    #: the characters of every string in it, names included
    chars: int
    #: the deepest nesting of lists and objects, and the column that has it
    depth: int
    deepest: str
    #: the column holding the most values
    largest: str
    #: the first column holding a value JSON has no form for (NaN, an infinity, a Python object)
    unstorable: str = ""


#: the shape of a row with no metadata, which most rows are
NO_METADATA = MetadataShape(values=0, chars=0, depth=0, deepest="", largest="")
#: the scalars JSON has, besides finite floats (bool is an int)
_JSON_SCALARS = (str, int, type(None))


class InvalidJobSpec(ValueError):
    """Raised when a JobSpec is made with a bad key or metadata: `problems` holds what is wrong
    with each (`{"key": ..., "metadata": ...}`), so a manifest row reports both at once."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {problem}" for name, problem in problems.items()))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class JobSpec:
    """One manifest row made valid: its key in the batch, the call to make, the row's metadata.

    Making one with a key that is not a safe object key, or metadata the results table cannot
    hold, raises InvalidJobSpec.
    """

    key: str
    line: int
    input: ModelInput
    metadata: dict[str, Any] = field(default_factory=dict)
    #: which of its row's variants it is, from 1 (jobs.variants); None: the row's one image
    variant: int | None = None
    #: what the metadata holds, measured once while it is checked (the producer sizes its chunks
    #: by it)
    metadata_shape: MetadataShape = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        problems: dict[str, str] = {}
        try:
            validate_key(self.key)
        except ValueError as exc:
            problems["key"] = str(exc)
        shape = NO_METADATA
        if self.metadata:
            shape = metadata_shape(self.metadata)
            if (problem := metadata_problem(self.metadata, shape)) is not None:
                problems["metadata"] = problem
        if problems:
            raise InvalidJobSpec(problems)
        object.__setattr__(self, "metadata_shape", shape)


def metadata_problem(metadata: dict[str, Any], shape: MetadataShape) -> str | None:
    """Why `metadata` (whose shape is `shape`) cannot go to the results table as JSON, if it
    cannot: it must be plain JSON, bounded, and free of NUL (PostgreSQL text cannot hold one;
    JSON would carry it only as a \\u0000 escape PostgreSQL refuses too)."""
    if shape.values > MAX_METADATA_VALUES:
        return (
            f"holds more than {MAX_METADATA_VALUES} values, the most allowed (its columns "
            f"and every list item and object member in them; {quoted(shape.largest)} holds the "
            "most)"
        )
    if shape.depth > MAX_METADATA_DEPTH:
        return (
            f"{quoted(shape.deepest)} nests lists and objects {shape.depth} levels deep; "
            f"at most {MAX_METADATA_DEPTH} are allowed"
        )
    if shape.unstorable:
        return (
            f"{quoted(shape.unstorable)} holds a value JSON has no form for (NaN, an infinite "
            "number or an object of another kind): use text, numbers, true or false, null, "
            "lists and objects"
        )
    # the same serialiser the table is written with (jobs.bulk_insert), ten times the speed of
    # the json module's
    try:
        text = to_json(metadata)
    except PydanticSerializationError as exc:  # a lone surrogate: not text
        return f"is not JSON: {exc}"
    if len(text) > MAX_METADATA_BYTES:
        return (
            f"is {len(text)} bytes as JSON (every column that is not a job field); at most "
            f"{MAX_METADATA_BYTES} are allowed"
        )
    if b"\\u0000" in text and (where := _nul_in(metadata)) is not None:
        return f"{where} contains a NUL character (U+0000); text cannot hold it"
    return None


def metadata_shape(metadata: dict[str, Any]) -> MetadataShape:
    """Count what `metadata` holds, without recursion (a deep row must not overflow the stack)
    and without going on past MAX_METADATA_VALUES + 1 values (a huge one costs no more)."""
    values = chars = depth = most = 0
    deepest = largest = unstorable = ""
    for column, value in metadata.items():
        chars += len(column)
        if isinstance(value, str):  # most columns: a caption, a label, a CSV cell
            counted, text, nested, storable = 1, len(value), 0, True
        else:
            budget = MAX_METADATA_VALUES + 1 - values
            counted, text, nested, storable = _nested_shape(value, budget)
        values += counted
        chars += text
        if nested > depth:
            depth, deepest = nested, column
        if counted > most:
            most, largest = counted, column
        if not (storable or unstorable):
            unstorable = column
        if values > MAX_METADATA_VALUES:
            break
    return MetadataShape(values, chars, depth, deepest, largest, unstorable)


def _nested_shape(value: Any, budget: int) -> tuple[int, int, int, bool]:
    """The values (at most `budget`), string characters and nesting depth of one column, and
    whether JSON can hold every value in it."""
    values = chars = depth = 0
    storable = True
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending and values < budget:
        item, level = pending.pop()
        values += 1
        if isinstance(item, str):
            chars += len(item)
            continue
        members: list[Any]
        if isinstance(item, dict):
            chars += sum(map(len, item))
            members = list(item.values())
        elif isinstance(item, list):
            members = item
        else:
            storable = storable and _is_json_scalar(item)
            continue
        depth = max(depth, level + 1)
        pending.extend((member, level + 1) for member in members[: MAX_METADATA_VALUES + 1])
    return values, chars, depth, storable


def _is_json_scalar(value: Any) -> bool:
    """Text, a whole number, a finite number, true or false, or null."""
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, _JSON_SCALARS)


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
