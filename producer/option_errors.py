"""A bad option value said in the CLI's words: `--format: 'xml' is not one of jsonl, csv, ...`.

Typer checks option values with pydantic and passes pydantic's wording on (`Invalid value for
'--format': Value error, 'xml' is not one of ...`, `Input should be a valid integer, unable to
parse string as an integer`). Every command runs inside `OptionErrorsGroup`, the one place
where such an error becomes the line people read; usage errors keep their exit code, 2.
"""

from enum import Enum
from typing import Any

import typer
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from typer.core import TyperGroup

#: how pydantic opens what it expected; the CLI says "'abc' is not a valid integer" instead
_PYDANTIC_EXPECTED = "Input should be "


class OptionError(typer.BadParameter):
    """A bad value, shown as `--option: problem` under the command's usage line."""

    def format_message(self) -> str:
        return self.message


class OptionErrorsGroup(TyperGroup):
    """The `seedream-batch` group: runs its commands, and says their bad option values (which
    typer finds while it parses a command's arguments) in the CLI's words."""

    # typer hands every command its own Context, a subclass of the one the base class names
    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except typer.BadParameter as exc:
            if not isinstance(exc.__cause__, ValidationError) or exc.param is None:
                raise
            names = "/".join(exc.param.opts) or str(exc.param.name)
            problem = _problem(exc.param, exc.__cause__.errors()[0])
            raise OptionError(f"{names}: {problem}", ctx=exc.ctx, param=exc.param) from None


def _problem(param: Any, error: ErrorDetails) -> str:
    """What is wrong with the value, without pydantic's phrasing."""
    value = error["input"]
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is not None and descriptor.is_choice and descriptor.choices:
        names = ", ".join(c.value if isinstance(c, Enum) else str(c) for c in descriptor.choices)
        return f"{value!r} is not one of {names}"
    if error["type"] == "value_error":
        return str(error.get("ctx", {}).get("error", error["msg"])).rstrip(".")
    message = error["msg"]
    if message.startswith(_PYDANTIC_EXPECTED):
        # "a valid integer, unable to parse string as an integer": the first clause says it
        expected = message.removeprefix(_PYDANTIC_EXPECTED).split(", ")[0]
        return f"{value!r} is not {expected}"
    return message
