"""A campaign's templates: text with `{field}` placeholders, and nothing else.

A campaign file is often written by someone other than the person who runs it, and its data table
by someone else again, so a template can only read a field: `{name}` puts the value of the field
`name` in its place; `{{` and `}}` are a literal brace. Python's format language (and Jinja's)
would let a template reach attributes (`{name.__class__}`), index (`{name[0]}`), call conversions
or pad a value to a gigabyte (`{name:>999999999}`): every placeholder that is not a bare field
name is refused when the campaign is read, before any row is expanded. A value is never read as a
template in turn, so a data cell holding `{secret}` is the text `{secret}`.

In an `id`, every value is made safe for a job key first (`key_safe`), so a value cannot add a
folder level or a character storage refuses: `9:16` becomes `9-16`, `Red shoes/XL` `Red-shoes-XL`.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jobs.quoting import quoted
from producer.manifest_formats import MAX_ROW_BYTES

#: a field name a placeholder may read: a column of a CSV (which may hold spaces and dashes), a
#: JSONL key, or an axis; never `.`, `[`, `!`, `:` or a brace, which Python's format gives meaning
_FIELD_NAME = re.compile(r"\w(?:[\w -]*\w)?")
#: the pieces of a template: an escaped brace, a placeholder, or a stray brace
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
#: what a value in a key may keep; every run of anything else becomes one `-`
_NOT_KEY_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
#: how to write what a placeholder may hold, for messages
PLACEHOLDER_RULE = (
    "a placeholder is a field name in braces, such as {sku}: no attribute access, indexing, "
    "conversion or format spec; write {{ and }} for a literal brace"
)


def is_field_name(name: str) -> bool:
    """Whether a placeholder may read the field `name`."""
    return _FIELD_NAME.fullmatch(name) is not None


@lru_cache(maxsize=4096)
def _key_safe(text: str) -> str:
    """`text` fit for a key. Cached: in a campaign the same axis values and row values go into
    every combination's key, and a cache hit costs a fifth of the substitution."""
    return _NOT_KEY_SAFE.sub("-", text)


class TemplateError(ValueError):
    """The template text is not one: the message says what is wrong and what is allowed."""


class ValueProblem(ValueError):
    """A row's value cannot go into a template: `field` is the field it came from."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(problem)
        self.field = field
        self.problem = problem


@dataclass(frozen=True)
class Template:
    """A parsed template for the field `sets`: literal text and the fields read between."""

    sets: str
    text: str
    #: literal text, then a field name, then literal text ...: always one more literal than fields
    literals: tuple[str, ...]
    fields: tuple[str, ...]
    #: the literals as a str.format pattern with a `{}` for each field: one C call renders it
    pattern: str
    #: how long the literals are together
    literal_chars: int

    @classmethod
    def parse(cls, sets: str, text: str) -> "Template":
        """The template `text` for the field `sets`, or TemplateError naming the first bad
        placeholder."""
        literals: list[str] = []
        fields: list[str] = []
        literal: list[str] = []
        position = 0
        for token in _TOKEN.finditer(text):
            literal.append(text[position : token.start()])
            position = token.end()
            piece = token.group()
            if piece in ("{{", "}}"):
                literal.append(piece[0])
            elif (name := token.group(1)) is not None and _FIELD_NAME.fullmatch(name):
                literals.append("".join(literal))
                fields.append(name)
                literal = []
            else:
                raise TemplateError(f"{quoted(piece)} is not a placeholder: {PLACEHOLDER_RULE}")
        literal.append(text[position:])
        literals.append("".join(literal))
        pattern = "{}".join(part.replace("{", "{{").replace("}", "}}") for part in literals)
        return cls(sets, text, tuple(literals), tuple(fields), pattern, sum(map(len, literals)))

    def render(
        self, values: Mapping[str, Any], *, key_safe: bool = False, max_chars: int = MAX_ROW_BYTES
    ) -> str:
        """The text with each placeholder replaced by its field's value in `values` (made safe for
        a job key when `key_safe`); ValueProblem when a field is missing or not text or a
        number, or when the text would pass `max_chars` (checked before it is made: a template
        repeating a 10 MB cell a hundred times does not take a gigabyte to refuse)."""
        texts = []
        for name in self.fields:
            value = values.get(name)
            texts.append(value if type(value) is str else self._text(name, value))
        if key_safe:
            texts = [_key_safe(text) for text in texts]
        if (length := self.literal_chars + sum(map(len, texts))) > max_chars:
            raise ValueProblem(
                self.sets,
                f"its template would make {length:,} characters of it; at most {max_chars:,} "
                "are allowed",
            )
        return self.pattern.format(*texts)

    def _text(self, name: str, value: Any) -> str:
        """How the value of the field `name` reads in the template: text as it is, a number as
        JSON writes it; ValueProblem for a field not given (None), a list or an object."""
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        if value is None:
            problem = f"is empty or not given, and the {self.sets} template reads it"
            raise ValueProblem(name, problem)
        kind = "a list" if isinstance(value, list) else "an object"
        raise ValueProblem(
            name, f"is {kind}; the {self.sets} template can only put text or a number in its place"
        )
