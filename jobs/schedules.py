"""A schedule: a recurring batch, fired on its cron in its own time zone.

Beat reads schedules to know when to fire, the worker gets one in every fire's message, and
`seedream-batch schedules` shows them: the model is here in `jobs/`, shared by both sides; the
schedule file that holds them is read by `producer.schedule_file`. Fire times are cronsim's (it
follows Debian cron across DST changes), so `schedules` shows the same next run that beat keeps.
"""

import re
from datetime import UTC, datetime, timedelta
from string import Formatter
from typing import Annotated, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from jobs.batch_names import MAX_NAME_CHARS, validate_name
from jobs.models import model_named
from jobs.quoting import quoted
from jobs.records import DEFAULT_WEIGHT, Share
from jobs.variants import MAX_VARIANTS

#: the placeholders a `batch` template may use, by name alone (no attribute or index access)
_PLACEHOLDERS = frozenset({"date", "name"})

#: a schedule's name: it is recorded on its batches and names its beat entry
ScheduleName = Annotated[str, AfterValidator(lambda name: validate_name(name, "schedule name"))]


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
    #: the model its batches call (a batch has one), one of jobs.models.MODELS; unset = the
    #: worker's SEEDREAM_MODEL
    model: str | None = None
    max_cost: float | None = Field(default=None, ge=0)
    #: a run whose estimate is over max_cost starts anyway and pauses at the budget (else it is
    #: refused, as `run --max-cost` without --allow-partial)
    allow_partial: bool = False
    #: its batches pay for every image rather than copy stored ones of the same input (--fresh)
    fresh: bool = False
    #: its batches' share of the fleet against the other batches that run (jobs.fair_share)
    weight: float = Field(default=DEFAULT_WEIGHT, gt=0)
    #: the most of its batches' jobs sent or running at once; unset = no cap
    max_in_flight: int | None = Field(default=None, ge=1)
    #: the images each row of its manifest asks for unless it says (jobs.variants)
    variants: int = Field(default=1, ge=1, le=MAX_VARIANTS)
    timezone: str = "UTC"

    @property
    def share(self) -> Share:
        """How its batches share the fleet."""
        return Share(self.weight, self.max_in_flight)

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

    @field_validator("model")
    @classmethod
    def _supported_model(cls, model: str | None) -> str | None:
        if model is not None:
            model_named(model)  # UnknownModel (a ValueError) lists the supported names
        return model

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
