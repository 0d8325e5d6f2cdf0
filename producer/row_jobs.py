"""One manifest row's fields become its jobs (one, or one per variant), or a `RejectedRow`.

The row's fields are those of the batch's model (`jobs.models`; validated by it, never by rules
copied here). What each column means is told in `producer.manifest`; this module applies it to one
row read by a manifest's format or expanded from a campaign.
"""

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import ValidationError

from jobs.models import MODELS, ModelAdapter, ModelInput
from jobs.spec import InvalidJobSpec, JobSpec
from jobs.variants import MAX_VARIANTS, variant_key_too_long, variants_of
from producer.input_problems import input_problem, shown
from producer.local_images import LocalImageError, is_local_path, local_image_as_data_uri
from producer.manifest_formats import (
    KEY_FIELD,
    MODEL_FIELD,
    VARIANTS_FIELD,
    RowProblem,
    SourceRow,
)

#: the manifest column a JobSpec problem is reported on
_SPEC_COLUMNS = {"key": KEY_FIELD, "metadata": "metadata"}
#: what stands for an input that failed validation while the rest of its row is checked
_INPUT_REFUSED = ModelInput(prompt="(refused)")
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


def jobs_or_rejection(
    path: str, row: SourceRow, folder: Path, model: ModelAdapter, variants: int
) -> list[JobSpec] | RejectedRow:
    """The row's jobs (one per variant), or everything wrong with it."""
    if row.problem is not None:
        return RejectedRow(path, row.line, (row.problem,), row.raw)
    key, problems = _key(row.fields.get(KEY_FIELD), row.line)
    if (given_variants := row.fields.get(VARIANTS_FIELD)) is not None:
        variants = _variants(given_variants, problems)
    if variants > 1 and (too_long := variant_key_too_long(key, variants)):
        problems.append(RowProblem(KEY_FIELD, too_long))
    given, metadata = _input_and_metadata(row.fields, model, problems)
    for name in model.input_type.image_fields:
        if name in given:
            given[name] = _inline_images(name, given[name], model, folder, problems)
    try:
        job_input = model.parse_input(given)
    except ValidationError as exc:
        problems += [input_problem(error, model) for error in exc.errors(include_url=False)]
        job_input = _INPUT_REFUSED
    try:
        job = JobSpec(key, row.line, job_input, metadata)
    except InvalidJobSpec as exc:
        problems += [RowProblem(_SPEC_COLUMNS[name], why) for name, why in exc.problems.items()]
    if problems:
        return RejectedRow(path, row.line, tuple(problems), row.raw)
    return [job] if variants == 1 else variants_of(job, variants)


def _input_and_metadata(
    fields: dict[str, Any], model: ModelAdapter, problems: list[RowProblem]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A row's fields split into the model's input and metadata; `id`, `variants` and `model` are
    neither (a `model` other than the batch's is a problem), nor is another model's field (a
    problem)."""
    inputs, foreign = _input_fields(model), _foreign_fields(model)
    given: dict[str, Any] = {}
    metadata: dict[str, Any] = {}
    for name, value in fields.items():
        if name in inputs:
            given[name] = value
        elif name == KEY_FIELD or name == VARIANTS_FIELD:
            continue
        elif name == MODEL_FIELD:
            problems += _other_model(value, model)
        elif (owners := foreign.get(name)) is not None:
            problems.append(RowProblem(name, owners))
        else:
            metadata[name] = value
    return given, metadata


@cache
def _input_fields(model: ModelAdapter) -> frozenset[str]:
    """The names of `model`'s input fields, read once: pydantic's `model_fields` is a property
    that costs a microsecond a row."""
    return frozenset(model.input_type.model_fields)


@cache
def _foreign_fields(model: ModelAdapter) -> dict[str, str]:
    """The input fields of other models only, each with why a row giving it is refused: kept as
    metadata, what it asks for (4.5's max_images in a 4.0 batch) would silently not be done."""
    owners: dict[str, list[str]] = {}
    for other in MODELS.values():
        for name in other.input_type.model_fields:
            if name not in model.input_type.model_fields:
                owners.setdefault(name, []).append(other.name)
    return {
        name: f"is a field of {', '.join(names)}, not of {model.name}, which this batch calls: "
        "submit the rows as a batch of that model (--model)"
        for name, names in owners.items()
    }


def _other_model(given: Any, model: ModelAdapter) -> list[RowProblem]:
    """No problem when the row names the batch's model; else what to do with the row."""
    if given is None or given == model.name:
        return []
    if not isinstance(given, str) or given not in MODELS:
        supported = ", ".join(MODELS)
        problem = f"{shown(given)} is not a model this version supports: use one of {supported}"
        return [RowProblem(MODEL_FIELD, problem)]
    return [
        RowProblem(
            MODEL_FIELD,
            f"this batch calls {model.name}; a batch has one model: submit rows for {given} as "
            f"another batch with --model {given}",
        )
    ]


def _inline_images(
    name: str, value: Any, model: ModelAdapter, folder: Path, problems: list[RowProblem]
) -> Any:
    """An image field with every local file path in it read and made a data URI (a refused one
    noted in `problems`); a list field given as text split into its items first."""
    if isinstance(value, str) and _takes_a_list(model, name):
        value = _split_list(value)
    if isinstance(value, list):
        return [_inline_image(name, item, folder, problems) for item in value]
    return _inline_image(name, value, folder, problems)


def _inline_image(name: str, value: Any, folder: Path, problems: list[RowProblem]) -> Any:
    if not isinstance(value, str) or not is_local_path(value):
        return value
    try:
        return local_image_as_data_uri(value, folder)
    except LocalImageError as exc:
        problems.append(RowProblem(name, str(exc)))
        return _REFUSED_IMAGE_STAND_IN


def _takes_a_list(model: ModelAdapter, name: str) -> bool:
    annotation = model.input_type.model_fields[name].annotation
    return any(get_origin(kind) is list for kind in (*get_args(annotation), annotation))


def _split_list(text: str) -> Any:
    """A list given as text: a JSON array (any other JSON is left for the model to refuse), or
    items separated by whitespace (URIs hold none)."""
    if text.lstrip().startswith("["):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text.split()


def _key(given: Any, line: int) -> tuple[str, list[RowProblem]]:
    """The row's key (an integer id becomes its digits), or the default and why `given` is not."""
    if given is None:
        return str(line), []
    if isinstance(given, str):
        return given, []
    if isinstance(given, int) and not isinstance(given, bool):
        return str(given), []
    problem = f"{shown(given)} is not a key: use text or a whole number"
    return str(line), [RowProblem(KEY_FIELD, problem)]


def _variants(given: Any, problems: list[RowProblem]) -> int:
    """The images the row asks for: a whole number (digits, in a CSV cell) from 1 to MAX_VARIANTS;
    one, and why not, when `given` is not."""
    number = int(given) if isinstance(given, str) and given.isascii() and given.isdigit() else given
    if isinstance(number, int) and not isinstance(number, bool) and 1 <= number <= MAX_VARIANTS:
        return number
    allowed = f"use a whole number from 1 to {MAX_VARIANTS} (each variant is a call of its own)"
    problems.append(RowProblem(VARIANTS_FIELD, f"{shown(given)} is not allowed: {allowed}"))
    return 1
