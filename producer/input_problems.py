"""How a problem pydantic found in a manifest row's input is worded: the column it is on, what
was given and what is allowed, in words a person who wrote the row reads at once."""

import re
from typing import Any

from pydantic_core import ErrorDetails

from jobs.models import ModelAdapter
from jobs.quoting import QUOTED_CHARS, quoted
from producer.manifest_formats import RowProblem

_RANGE_ERRORS = {"greater_than_equal", "less_than_equal", "greater_than", "less_than"}
_INTEGER_ERRORS = {"int_parsing", "int_type", "int_from_float"}
_VALUE_ERROR_PREFIXES = ("Value error, ", "Assertion failed, ")


def input_problem(error: ErrorDetails, model: ModelAdapter) -> RowProblem:
    """The problem pydantic reported on the row's input, named by its column."""
    name = _field_name(error, model)
    return RowProblem(name, _describe(name, error, model))


def _field_name(error: ErrorDetails, model: ModelAdapter) -> str:
    """The manifest column an error of the input is about.

    A cross-field error goes to the first field its message names that the row gave ("width and
    height are only allowed with size 'custom'" on a row giving height: height).
    """
    if error["loc"]:
        return ".".join(str(part) for part in error["loc"])
    given = error["input"] if isinstance(error["input"], dict) else {}
    named = sorted(
        (name not in given, m.start(), name)
        for name in model.input_type.model_fields
        if (m := re.search(rf"\b{name}\b", error["msg"]))
    )
    return named[0][2] if named else "input"


def _describe(name: str, error: ErrorDetails, model: ModelAdapter) -> str:
    """What was given and what is allowed, in words (pydantic's own for rules it words well)."""
    kind, message, given = error["type"], error["msg"], shown(error["input"])
    if kind == "missing":
        return "is required"
    if kind == "enum":
        members = re.findall(r"'([^']*)'", error.get("ctx", {}).get("expected", ""))
        return f"{given} is not allowed: use one of {', '.join(members)}"
    if kind in _RANGE_ERRORS:
        return f"{given} is out of range: {_allowed_range(name, model) or message}"
    if kind in _INTEGER_ERRORS:
        bounds = _allowed_range(name, model)
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


def _allowed_range(name: str, model: ModelAdapter) -> str | None:
    """`allowed 1024 to 4096`, read from the input field's own constraints."""
    info = model.input_type.model_fields.get(name)
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


def shown(value: Any) -> str:
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
