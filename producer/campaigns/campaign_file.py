"""The campaign file: a YAML file that stands for a manifest, a matrix of data rows and axes.

```yaml
data: products.csv            # a CSV or JSONL file beside this one, or a list of rows
prompt: "{name} on a plain background, {style} style"
id: "{sku}/{aspect_ratio}-{style}"  # optional; read on
vary:                         # every row is expanded once for each combination of the axes
  aspect_ratio: ["1:1", "9:16", "16:9"]
  style: [photo, watercolor]
fixed:                        # the same for every job; a text value may be a template too
  size: 2K
variants: 2                   # optional: the images each job asks for unless its row says
```

Every data row becomes one manifest row per combination: the row's own fields, the axes' values,
the fixed fields, `prompt` (and `id`) from their templates. What a manifest row means then holds
(input fields go to the model, the rest is metadata, `jobs.variants`). Templates
(`producer.campaigns.templates`) read the data row's fields and the axes; `{id}` is the row's id,
or its line number when it has none. Without an `id` template the key is the row's id (or line
number) followed by the value of each axis that varies: `17/9-16/photo`.

Everything that can be judged before a row is read is judged when the file is read, and refused
with `campaign.yaml: field: problem`: the fields and their types, each template, a placeholder
reading a fixed field, an axis that is neither an input field of the batch's model nor read by a
template (a typo would otherwise multiply the jobs silently), an `id` template that leaves out an
axis that varies (the combinations of one row would share a key), a data file outside the
campaign's folder (a campaign fired from a schedule message is not trusted to read elsewhere).
"""

import itertools
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
)

from jobs.models import ModelAdapter
from jobs.quoting import quoted
from jobs.variants import MAX_VARIANTS
from producer.campaigns.templates import PLACEHOLDER_RULE, Template, TemplateError, is_field_name
from producer.manifest_formats import KEY_FIELD, VARIANTS_FIELD, ManifestError, format_of
from producer.safe_yaml import YamlRefused, yaml_document

#: the extensions of a campaign file
CAMPAIGN_EXTENSIONS = (".yaml", ".yml")
#: The largest campaign file read. Rows written inline are for a few hundred products; a table of
#: thousands belongs in a data file, which is streamed, where the YAML file is read whole.
MAX_CAMPAIGN_BYTES = 16 * 1024 * 1024
#: The most combinations of the axes: each is a job per data row (times its variants). A
#: marketing matrix is a dozen; a thousand is a typo's worth of extra values, refused unpaid.
MAX_COMBINATIONS = 1000
#: the field the prompt template sets
PROMPT_FIELD = "prompt"
#: fields set by a key of their own, never by an axis or a fixed field
_OWN_KEYS = {PROMPT_FIELD: "prompt:", KEY_FIELD: "id:", VARIANTS_FIELD: "variants:"}

#: the names pydantic puts in an error's location for the member of a union that failed
_UNION_TAGS = {"str", "int", "float", "bool", "list[any]"}

AxisValue = StrictStr | StrictInt | StrictFloat | StrictBool


class _CampaignText(BaseModel):
    """The campaign file's fields, as YAML gave them."""

    model_config = ConfigDict(extra="forbid")

    data: StrictStr | list[Any] = Field(min_length=1)
    prompt: StrictStr = Field(min_length=1)
    id: StrictStr | None = Field(default=None, min_length=1)
    vary: dict[StrictStr, Annotated[list[AxisValue], Field(min_length=1)]] = {}
    fixed: dict[StrictStr, Any] = {}
    variants: StrictInt | None = Field(default=None, ge=1, le=MAX_VARIANTS)


@dataclass(frozen=True)
class InlineRow:
    """A data row written in the campaign file, and the line it starts on."""

    line: int
    value: Any


@dataclass(frozen=True)
class Campaign:
    """A campaign file, checked: where its rows are, and how each becomes manifest rows."""

    path: Path
    #: the data file (as the campaign names it, joined to its folder), or None for inline rows
    data_path: Path | None
    inline_rows: tuple[InlineRow, ...]
    prompt: Template
    #: the id template, given or made from the axes that vary; None leaves the row's own id
    id: Template | None
    #: each axis and its values, in the file's order
    axes: tuple[tuple[str, tuple[AxisValue, ...]], ...]
    #: fixed fields: a text value as a template, any other value as it is
    fixed: tuple[tuple[str, Any], ...]
    variants: int | None

    @property
    def folder(self) -> Path:
        """Where the data file and local input images are read from."""
        return self.path.parent

    @property
    def templates(self) -> tuple[Template, ...]:
        own = (self.prompt,) if self.id is None else (self.prompt, self.id)
        return own + tuple(value for _, value in self.fixed if isinstance(value, Template))

    @property
    def row_fields_read(self) -> frozenset[str]:
        """The data row's fields the templates read (not the axes)."""
        axes = {name for name, _ in self.axes}
        return frozenset(f for t in self.templates for f in t.fields if f not in axes)

    def combinations(self) -> list[dict[str, AxisValue]]:
        """The axes' values, one mapping per combination: the first axis changes slowest."""
        names = [name for name, _ in self.axes]
        return [
            dict(zip(names, values, strict=True))
            for values in itertools.product(*(values for _, values in self.axes))
        ]


def is_campaign(path: Path) -> bool:
    """Whether `path` names a campaign file rather than a manifest."""
    return path.suffix.lower() in CAMPAIGN_EXTENSIONS


def load_campaign(path: Path, model: ModelAdapter) -> Campaign:
    """The campaign at `path`, checked for a batch of `model`; ManifestError saying
    `campaign.yaml: field: problem` when it cannot be used."""
    text = _campaign_text(path)
    try:
        raw, node = yaml_document(text, "a campaign file")
    except YamlRefused as exc:
        raise ManifestError(path, str(exc)) from None
    if not isinstance(raw, dict):
        raise ManifestError(
            path,
            "a campaign file is a mapping: data:, prompt:, and optionally "
            "id:, vary:, fixed:, variants:",
        )
    try:
        given = _CampaignText.model_validate(raw)
    except ValidationError as exc:
        raise ManifestError(path, _first_problem(exc)) from None
    campaign = Campaign(
        path=path,
        data_path=_data_path(path, given.data) if isinstance(given.data, str) else None,
        inline_rows=() if isinstance(given.data, str) else _inline_rows(given.data, node),
        prompt=_template(path, PROMPT_FIELD, PROMPT_FIELD, given.prompt),
        id=None if given.id is None else _template(path, KEY_FIELD, KEY_FIELD, given.id),
        axes=tuple((name, tuple(values)) for name, values in given.vary.items()),
        fixed=tuple((name, _fixed_value(path, name, value)) for name, value in given.fixed.items()),
        variants=given.variants,
    )
    _check_axes(campaign, model)
    _check_fixed(campaign)
    if campaign.id is None:
        return _with_default_id(campaign)
    _check_id(campaign)
    return campaign


def _campaign_text(path: Path) -> str:
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_CAMPAIGN_BYTES + 1)
    except FileNotFoundError:
        raise ManifestError(path, "no such campaign file") from None
    except OSError as exc:
        raise ManifestError(path, f"cannot be read: {exc.strerror}") from None
    if len(data) > MAX_CAMPAIGN_BYTES:
        raise ManifestError(
            path,
            f"is over {MAX_CAMPAIGN_BYTES // (1024 * 1024)} MB; move its "
            "rows to a CSV or JSONL file and name it in data:",
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ManifestError(path, "is not UTF-8 text: save the campaign file as UTF-8") from None


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    where = ".".join(str(part) for part in error["loc"] if str(part) not in _UNION_TAGS)
    message = str(error["msg"])
    if error["type"] == "extra_forbidden":
        message = "is not a campaign field: use data, prompt, id, vary, fixed, variants"
    elif error["type"] == "missing":
        message = "is missing: a campaign needs data: (a file or rows) and prompt: (a template)"
    return f"{quoted(where) if len(where) > 60 else where}: {message}"


def _data_path(path: Path, data: str) -> Path:
    """The data file `data` names, beside the campaign; ManifestError when it is outside the
    campaign's folder (after links) or not a CSV or JSONL file."""
    folder = path.parent.resolve()
    joined = path.parent / data
    if not joined.resolve().is_relative_to(folder):
        raise ManifestError(
            path,
            f"data: {quoted(data)} is outside the campaign's folder (after "
            "following links): put the data file beside the campaign",
        )
    if joined.suffix.lower() in CAMPAIGN_EXTENSIONS:
        raise ManifestError(
            path, f"data: {quoted(data)} is a campaign; data: names a CSV or JSONL file of rows"
        )
    try:
        format_of(joined)
    except ManifestError as exc:
        raise ManifestError(path, f"data: {exc.problem}") from None
    return joined


def _inline_rows(rows: list[Any], node: Any) -> tuple[InlineRow, ...]:
    """The rows written under data:, each with its line (from the YAML node tree)."""
    items = next(value.value for key, value in node.value if key.value == "data")
    return tuple(
        InlineRow(item.start_mark.line + 1, row) for item, row in zip(items, rows, strict=True)
    )


def _template(path: Path, sets: str, where: str, text: str) -> Template:
    try:
        return Template.parse(sets, text)
    except TemplateError as exc:
        raise ManifestError(path, f"{where}: {exc}") from None


def _fixed_value(path: Path, name: str, value: Any) -> Any:
    """A fixed text value with placeholders as the template it is; any other value as it is
    (text without placeholders with its `{{` and `}}` read as braces)."""
    if not isinstance(value, str):
        return value
    template = _template(path, name, f"fixed.{name}", value)
    return template if template.fields else template.literals[0]


def _check_axes(campaign: Campaign, model: ModelAdapter) -> None:
    path = campaign.path
    read = {field for template in campaign.templates for field in template.fields}
    for name, values in campaign.axes:
        if not is_field_name(name):
            problem = f"vary: {quoted(name)} is not an axis name: {PLACEHOLDER_RULE}"
            raise ManifestError(path, problem)
        if name in _OWN_KEYS:
            raise ManifestError(
                path, f"vary.{name}: {name} is set by {_OWN_KEYS[name]}, not by an axis"
            )
        if len(set(map(repr, values))) < len(values):
            raise ManifestError(
                path, f"vary.{name}: a value is listed twice; each combination must differ"
            )
        if name not in read and name not in model.input_type.model_fields:
            raise ManifestError(
                path,
                f"vary.{name}: is not an input field of {model.name} and no template reads it, so "
                "it would only multiply the jobs: read it as {" + name + "} or remove it",
            )
    count = math.prod(len(values) for _, values in campaign.axes)
    if count > MAX_COMBINATIONS:
        raise ManifestError(
            path,
            f"vary: its axes make {count:,} combinations, each a job of "
            f"every row; at most {MAX_COMBINATIONS:,} are allowed",
        )


def _check_fixed(campaign: Campaign) -> None:
    path = campaign.path
    axes = {name for name, _ in campaign.axes}
    fixed = {name for name, _ in campaign.fixed}
    for name in fixed:
        if name in _OWN_KEYS:
            raise ManifestError(path, f"fixed.{name}: {name} is set by {_OWN_KEYS[name]}")
        if name in axes:
            raise ManifestError(path, f"fixed.{name}: is an axis of vary too: give it in one place")
    for template in campaign.templates:
        if reads_fixed := [name for name in template.fields if name in fixed]:
            where = template.sets if template.sets in _OWN_KEYS else f"fixed.{template.sets}"
            raise ManifestError(
                path,
                f"{where}: {{{reads_fixed[0]}}} reads a fixed field; "
                "templates read the data's fields and the axes: write the value "
                "in the template",
            )


def _varying_axes(campaign: Campaign) -> list[str]:
    return [name for name, values in campaign.axes if len(values) > 1]


def _check_id(campaign: Campaign) -> None:
    """An id template tells every job apart: it reads each axis that varies, and a field of the
    data row (or all rows would share their keys)."""
    assert campaign.id is not None
    path, fields = campaign.path, campaign.id.fields
    if missing := [name for name in _varying_axes(campaign) if name not in fields]:
        axis = missing[0]
        problem = (
            f"id: the template does not read the axis {axis}, so the combinations of a row "
            f"would share a key: add {{{axis}}}"
        )
        raise ManifestError(path, problem)
    axes = {name for name, _ in campaign.axes}
    if all(name in axes for name in fields):
        raise ManifestError(
            path,
            "id: the template reads no field of the data row, so every row "
            "would get the same keys: add one that names the row, such as {id} "
            "or {sku}",
        )


def _with_default_id(campaign: Campaign) -> Campaign:
    """The campaign keyed `{id}/{axis}/...` by the axes that vary; as it is when none does."""
    varying = _varying_axes(campaign)
    if not varying:
        return campaign
    text = "/".join(f"{{{name}}}" for name in (KEY_FIELD, *varying))
    return replace(campaign, id=Template.parse(KEY_FIELD, text))
