"""The schedule file (SEEDREAM_SCHEDULES_FILE): recurring batches that `seedream-batch beat` starts.

```yaml
- name: spring-daily            # letters, digits, . _ -
  cron: "0 6 * * *"             # minute hour day-of-month month day-of-week
  timezone: Europe/Berlin       # the cron's clock (default UTC)
  manifest: s3://campaigns/spring.jsonl   # or a path, relative to the worker's working folder
  output: s3://assets/spring
  batch: "spring-{date:%Y-%m-%d}"         # {date} is the fire time, in the timezone; {name}
  max_cost: 30                  # optional, like --max-cost; max_images like --max-images
```

The whole file is validated when it is read: a bad one is refused with a message naming the
file, the schedule and the field. Fire times are cronsim's (it follows Debian cron across DST
changes), so `schedules` shows the same next run that beat keeps.
"""

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from string import Formatter
from typing import Annotated, Any, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from cronsim import CronSim, CronSimError
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from jobs.quoting import QUOTED_CHARS, quoted
from producer.batches import MAX_NAME_CHARS, validate_name

#: a schedule's name: it is recorded on its batches and names its beat entry
#: the placeholders a `batch` template may use, by name alone (no attribute or index access)
_PLACEHOLDERS = frozenset({"date", "name"})

ScheduleName = Annotated[str, AfterValidator(lambda name: validate_name(name, "schedule name"))]


class ScheduleFileError(ValueError):
    """The schedule file cannot be used; the message names the file, schedule and field."""


class Schedule(BaseModel):
    """One recurring batch."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: ScheduleName
    cron: str
    manifest: str = Field(min_length=1)
    #: a folder or s3://bucket/prefix; unset = the worker's SEEDREAM_OUTPUT
    output: str | None = Field(default=None, min_length=1)
    #: the batch's name, a str.format template: {date:%Y-%m-%d} (the fire time) and {name}
    batch: str = Field(min_length=1)
    max_images: int | None = Field(default=None, ge=0)
    max_cost: float | None = Field(default=None, ge=0)
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown timezone {quoted(value)}: use an IANA name such as UTC or Europe/Berlin"
            ) from None
        return value

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        try:
            CronSim(value, datetime.now(UTC))
        except CronSimError as exc:
            raise ValueError(
                f"{quoted(value)} is not a cron expression ({exc}): five fields, "
                "minute hour day-of-month month day-of-week, e.g. '0 6 * * 1-5'"
            ) from None
        return value

    @model_validator(mode="after")
    def _a_new_batch_name_each_fire(self) -> Self:
        first = self.next_run(datetime.now(UTC))
        second = self.next_run(first)
        try:
            _check_template(self.batch)
            names = [validate_name(self.batch_name(moment)) for moment in (first, second)]
        except ValueError as exc:
            raise ValueError(
                f"batch: {exc}; a template such as '{self.name}-{{date:%Y-%m-%d}}' "
                "({date} is the fire time, {name} the schedule's)"
            ) from None
        if names[0] == names[1]:
            raise ValueError(
                f"batch: {quoted(self.batch)} names the runs at {first:%Y-%m-%d %H:%M} and "
                f"{second:%Y-%m-%d %H:%M} alike, so only the first would run: put enough of "
                "the time in it (e.g. {date:%Y-%m-%d-%H%M})"
            )
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def next_run(self, after: datetime) -> datetime:
        """The first fire strictly after `after` (an aware time), in UTC."""
        return next(CronSim(self.cron, after.astimezone(self.zone))).astimezone(UTC)

    def last_run(self, at: datetime) -> datetime:
        """The latest fire at or before `at` (an aware time), in UTC: fires fall on whole
        minutes, and cronsim's reverse walk starts strictly before its start."""
        start = at.astimezone(self.zone).replace(second=0, microsecond=0) + timedelta(minutes=1)
        return next(CronSim(self.cron, start, reverse=True)).astimezone(UTC)

    def batch_name(self, fired_at: datetime) -> str:
        """The batch the fire at `fired_at` makes; the date is on the schedule's clock."""
        return self.batch.format(date=fired_at.astimezone(self.zone), name=self.name)


class _AliasRefused(yaml.YAMLError):
    pass


class _NoAliasLoader(yaml.SafeLoader):
    """safe_load's loader, refusing aliases (`*name`): nine nested aliases make a billion
    values out of a few lines (90 s and 5.5 GB here), and a schedule file is short enough to
    write each value out."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            alias = self.peek_event()
            raise _AliasRefused(
                f"line {alias.start_mark.line + 1}: an alias ({quoted('*' + alias.anchor)}) is not "
                "allowed in a schedule file: write the value out"
            )
        return super().compose_node(parent, index)


def _check_template(template: str) -> None:
    """ValueError when a batch template names anything but {date} and {name} (`{name.__class__}`
    included) or asks for a width no batch name can have: `{name:>200000000}` would build 200 MB
    before the name could be checked."""
    for _, placeholder, spec, _ in Formatter().parse(template):
        if placeholder is None:
            continue
        if placeholder not in _PLACEHOLDERS:
            raise ValueError(f"unknown placeholder {quoted(placeholder)}")
        for width in re.findall(r"\d+", spec or ""):
            if len(width) > len(str(MAX_NAME_CHARS)) or int(width) > MAX_NAME_CHARS:
                whole = f"{{{placeholder}:{spec}}}"
                raise ValueError(
                    f"{quoted(whole)} pads to {quoted(width)} characters; a batch name has at "
                    f"most {MAX_NAME_CHARS}"
                )


_SCHEDULES = TypeAdapter(list[Schedule])


def load_schedules(path: Path) -> list[Schedule]:
    """Every schedule in the file, or ScheduleFileError naming what is wrong and where."""
    try:
        raw: Any = yaml.load(path.read_text(encoding="utf-8"), Loader=_NoAliasLoader)
    except FileNotFoundError:
        raise ScheduleFileError(
            f"{path}: no such file; write one (see config/schedules.yaml) "
            "or point SEEDREAM_SCHEDULES_FILE at it"
        ) from None
    except _AliasRefused as exc:
        raise ScheduleFileError(f"{path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise ScheduleFileError(f"{path}: not YAML: {exc}".replace("\n", " ")) from None
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ScheduleFileError(f"{path}: expected a list of schedules (- name: ...)")
    try:
        schedules = _SCHEDULES.validate_python(raw)
    except ValidationError as exc:
        raise ScheduleFileError(_describe(path, raw, exc)) from None
    seen: set[str] = set()
    for schedule in schedules:
        if schedule.name in seen:
            raise ScheduleFileError(f"{path}: schedule {quoted(schedule.name)}: name used twice")
        seen.add(schedule.name)
    return schedules


def _describe(path: Path, raw: list[Any], exc: ValidationError) -> str:
    """`file: schedule 'x' (#2): cron: problem` for the first error."""
    error = exc.errors()[0]
    index, *fields = error["loc"]
    entry = raw[int(index)] if isinstance(index, int) else None
    name = entry.get("name") if isinstance(entry, dict) else None
    number = f"#{int(index) + 1}"
    named = isinstance(name, str) and name
    which = f"schedule {quoted(name)} ({number})" if named else f"schedule {number}"
    message = str(error["msg"]).removeprefix("Value error, ")
    if not fields:  # a check of the whole schedule: its message names the field
        return f"{path}: {which}: {message}"
    field = ".".join(map(str, fields))
    return f"{path}: {which}: {field if len(field) <= QUOTED_CHARS else quoted(field)}: {message}"
