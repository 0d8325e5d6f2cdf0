"""The schedule file: what it accepts, what it refuses (and how it says so), fire times and the
batch names they make, and beat's view of them."""

import pickle
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from jobs.schedules import Schedule
from producer.schedule_file import ScheduleFileError, load_schedules
from worker.beat import CronTiming, beat_schedule
from worker.task_names import START_SCHEDULED_BATCH

GOOD = """\
- name: spring
  cron: "0 9 * * *"
  timezone: Europe/Berlin
  manifest: s3://campaigns/spring.jsonl
  output: s3://assets/spring
  batch: "spring-{date:%Y-%m-%d}"
  max_cost: 30
- name: every-minute
  cron: "* * * * *"
  manifest: jobs.jsonl
  output: ./out
  batch: "{name}-{date:%Y%m%d-%H%M}"
"""


def _schedule(**fields: object) -> Schedule:
    base: dict[str, object] = {
        "name": "s", "cron": "0 9 * * *", "manifest": "m.jsonl", "output": "out",
        "batch": "s-{date:%Y-%m-%d}",
    }  # fmt: skip
    return Schedule.model_validate(base | fields)


def _load(tmp_path: Path, text: str) -> list[Schedule]:
    path = tmp_path / "schedules.yaml"
    path.write_text(text)
    return load_schedules(path)


def test_a_good_file_gives_every_schedule_with_its_defaults(tmp_path: Path) -> None:
    spring, minutely = _load(tmp_path, GOOD)

    assert spring.timezone == "Europe/Berlin"
    assert spring.max_cost == 30
    assert spring.manifest == "s3://campaigns/spring.jsonl"
    assert spring.max_images is None
    assert spring.variants == 1
    assert minutely.timezone == "UTC"
    assert minutely.cron == "* * * * *"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('cron: "0 9 * * *"', 'cron: "61 9 * * *"', "schedule 'spring' (#1): cron: '61 9 * * *' "
         "is not a cron expression (Bad minute): five fields, minute hour day-of-month month "
         "day-of-week"),
        ("timezone: Europe/Berlin", "timezone: Mars/Olympus", "schedule 'spring' (#1): "
         "timezone: unknown timezone 'Mars/Olympus': use an IANA name"),
        ("max_cost: 30", "max_cost: -1", "schedule 'spring' (#1): max_cost: Input should be "
         "greater than or equal to 0"),
        ("max_cost: 30", "max_cost: 30\n  colour: red", "schedule 'spring' (#1): colour: Extra "
         "inputs are not permitted"),
        ("max_cost: 30", "max_cost: 30\n  variants: 101", "schedule 'spring' (#1): variants: "
         "Input should be less than or equal to 100"),
        ('batch: "spring-{date:%Y-%m-%d}"', 'batch: "spring-{when}"', "schedule 'spring' (#1): "
         "batch: unknown placeholder 'when'"),
        ('batch: "spring-{date:%Y-%m-%d}"', 'batch: "spring/{date:%Y}"', "schedule 'spring' "
         "(#1): batch: batch name 'spring/2"),
        ('batch: "{name}-{date:%Y%m%d-%H%M}"', 'batch: "{name}-{date:%Y%m%d}"', "schedule "
         "'every-minute' (#2): batch: '{name}-{date:%Y%m%d}' names the runs at"),
    ],
)  # fmt: skip
def test_a_bad_schedule_is_refused_naming_the_file_the_schedule_and_the_field(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    with pytest.raises(ScheduleFileError) as refused:
        _load(tmp_path, GOOD.replace(old, new, 1))

    assert str(refused.value).startswith(f"{tmp_path / 'schedules.yaml'}: ")
    assert expected in str(refused.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: x\n", "expected a list of schedules"),
        ("- name: [unclosed\n", "not YAML"),
        (GOOD + GOOD.split("- name: every-minute")[0].replace("    ", "  "), "name used twice"),
        ("- cron: '* * * * *'\n", "schedule #1: name: Field required"),
    ],
)
def test_a_file_that_is_not_a_list_of_schedules_is_refused(
    tmp_path: Path, text: str, expected: str
) -> None:
    with pytest.raises(ScheduleFileError, match=expected):
        _load(tmp_path, text)


def test_a_missing_file_says_where_to_put_one(tmp_path: Path) -> None:
    with pytest.raises(ScheduleFileError, match=r"no such file.*SEEDREAM_SCHEDULES_FILE"):
        load_schedules(tmp_path / "absent.yaml")


def test_the_example_file_in_config_is_valid() -> None:
    [example] = load_schedules(Path(__file__).parents[2] / "config" / "schedules.yaml")
    assert example.name == "spring-hero-daily"


def test_the_next_run_follows_the_schedules_clock_across_a_dst_change() -> None:
    berlin = _schedule(timezone="Europe/Berlin")

    # 09:00 in Berlin is 08:00 UTC in winter and 07:00 UTC from 29 March 2026
    assert berlin.next_run(datetime(2026, 3, 27, 12, tzinfo=UTC)) == datetime(
        2026, 3, 28, 8, tzinfo=UTC
    )
    assert berlin.next_run(datetime(2026, 3, 28, 12, tzinfo=UTC)) == datetime(
        2026, 3, 29, 7, tzinfo=UTC
    )


def test_the_last_run_is_the_latest_fire_at_or_before_a_moment() -> None:
    minutely = _schedule(cron="*/5 * * * *", batch="s-{date:%H%M}")
    fire = datetime(2026, 5, 1, 10, 5, tzinfo=UTC)

    assert minutely.last_run(fire) == fire
    assert minutely.last_run(fire + timedelta(seconds=59)) == fire
    assert minutely.last_run(fire - timedelta(seconds=1)) == fire - timedelta(minutes=5)


def test_the_batch_name_carries_the_fire_date_on_the_schedules_clock() -> None:
    berlin = _schedule(timezone="Europe/Berlin", batch="{name}-{date:%Y-%m-%d}")

    # 23:30 UTC on 1 March is already 2 March in Berlin
    assert berlin.batch_name(datetime(2026, 3, 1, 23, 30, tzinfo=UTC)) == "s-2026-03-02"


def test_beat_finds_a_schedule_due_once_its_fire_time_has_come() -> None:
    timing = CronTiming(_schedule(cron="* * * * *", batch="s-{date:%H%M}"))
    now = datetime.now(UTC)

    due, _ = timing.is_due(now - timedelta(minutes=2))
    not_yet, wait_s = timing.is_due(now)

    assert due
    assert not not_yet
    assert 0 < wait_s <= 60
    assert pickle.loads(pickle.dumps(timing)) == timing  # beat's state file keeps it


def test_the_beat_schedule_has_one_entry_per_schedule_carrying_it(tmp_path: Path) -> None:
    schedules = _load(tmp_path, GOOD)

    entries = beat_schedule(schedules)

    assert set(entries) == {"spring", "every-minute"}
    assert entries["spring"]["task"] == START_SCHEDULED_BATCH
    assert Schedule.model_validate(entries["spring"]["kwargs"]["schedule"]) == schedules[0]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("- name: spring", '- name: "spring\\n"', "name: schedule name 'spring\\n' is not allowed"),
        ('batch: "spring-{date:%Y-%m-%d}"', 'batch: "spring-{date:%Y-%m-%d}\\n"',
         "batch: batch name 'spring-2"),
    ],
)  # fmt: skip
def test_a_schedule_or_batch_name_ending_in_a_newline_is_refused(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    with pytest.raises(ScheduleFileError) as refused:
        _load(tmp_path, GOOD.replace(old, new, 1))

    assert expected in str(refused.value)


def test_an_alias_is_refused_before_it_can_expand_a_billion_times(tmp_path: Path) -> None:
    levels = "".join(f"  l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]\n" for n in range(2, 10))
    text = GOOD.split("- name: every-minute")[0] + "  l1: &l1 [lol, lol]\n" + levels
    started = time.perf_counter()

    with pytest.raises(ScheduleFileError) as refused:
        _load(tmp_path, text + "  name: *l9\n")

    assert time.perf_counter() - started < 1
    assert str(refused.value) == (
        f"{tmp_path / 'schedules.yaml'}: line 9: an alias ('*l1') is not allowed in a schedule "
        "file: write the value out"
    )


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("{name:>200000000}", "batch: '{name:>200000000}' pads to '200000000' characters; a "
         "batch name has at most 100"),
        ("{date:%Y}{name:0>" + "9" * 5000 + "}", "batch: '{name:0>" + "9" * 52 + "…' pads to "
         "'" + "9" * 60 + "…' characters"),
        ("{name.__class__}", "batch: unknown placeholder 'name.__class__'"),
        ("{0}", "batch: unknown placeholder '0'"),
    ],
)  # fmt: skip
def test_a_template_asking_for_a_huge_name_is_refused_before_it_is_formatted(
    tmp_path: Path, template: str, problem: str
) -> None:
    started = time.perf_counter()

    with pytest.raises(ScheduleFileError) as refused:
        _load(tmp_path, GOOD.replace('"spring-{date:%Y-%m-%d}"', f'"{template}"', 1))

    assert time.perf_counter() - started < 1
    assert problem in str(refused.value)
    assert len(str(refused.value)) < 400


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("timezone: Europe/Berlin", "timezone: " + "Mars/" * 20_000),
        ('cron: "0 9 * * *"', 'cron: "' + "0 " * 20_000 + '"'),
        ('batch: "spring-{date:%Y-%m-%d}"', 'batch: "' + "spring " * 20_000 + '"'),
        ("- name: spring", "- name: " + "spring " * 20_000),
        ("max_cost: 30", "max_cost: 30\n  " + "colour" * 150 + ": red"),
    ],
)
def test_a_huge_value_is_quoted_by_its_start_only(tmp_path: Path, old: str, new: str) -> None:
    with pytest.raises(ScheduleFileError) as refused:
        _load(tmp_path, GOOD.replace(old, new, 1))

    assert "…'" in str(refused.value)
    assert len(str(refused.value)) < 400
