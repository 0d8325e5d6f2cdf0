"""The schedule file (SEEDREAM_SCHEDULES_FILE): recurring batches that `seedream-batch beat` starts.

```yaml
- name: spring-daily            # letters, digits, . _ -
  cron: "0 6 * * *"             # minute hour day-of-month month day-of-week
  timezone: Europe/Berlin       # the cron's clock (default UTC)
  manifest: s3://campaigns/spring.jsonl   # or a path, relative to the worker's working folder
                                          # (a manifest, or a campaign file)
  output: s3://assets/spring
  batch: "spring-{date:%Y-%m-%d}"         # {date} is the fire time, in the timezone; {name}
  max_cost: 30                  # optional, like --max-cost; max_images like --max-images
  model: bytedance/seedream-4.5 # optional, like --model (default SEEDREAM_MODEL)
```

The whole file is validated when it is read: a bad one is refused with a message naming the
file, the schedule and the field. Fire times are cronsim's (it follows Debian cron across DST
changes), so `schedules` shows the same next run that beat keeps. The model of one schedule is
`jobs.schedules.Schedule`; this module reads the file.
"""

from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from jobs.quoting import QUOTED_CHARS, quoted
from jobs.schedules import Schedule
from producer.safe_yaml import YamlRefused, yaml_document


class ScheduleFileError(ValueError):
    """The schedule file cannot be used; the message names the file, schedule and field."""


_SCHEDULES = TypeAdapter(list[Schedule])


def load_schedules(path: Path) -> list[Schedule]:
    """Every schedule in the file, or ScheduleFileError naming what is wrong and where."""
    try:
        raw, _ = yaml_document(path.read_text(encoding="utf-8"), "a schedule file")
    except FileNotFoundError:
        raise ScheduleFileError(
            f"{path}: no such file; write one (see config/schedules.yaml) "
            "or point SEEDREAM_SCHEDULES_FILE at it"
        ) from None
    except YamlRefused as exc:
        raise ScheduleFileError(f"{path}: {exc}") from None
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
    named = name if isinstance(name, str) and name else None
    which = f"schedule {quoted(named)} ({number})" if named else f"schedule {number}"
    message = str(error["msg"]).removeprefix("Value error, ")
    if not fields:  # a check of the whole schedule: its message names the field
        return f"{path}: {which}: {message}"
    field = ".".join(map(str, fields))
    return f"{path}: {which}: {field if len(field) <= QUOTED_CHARS else quoted(field)}: {message}"
