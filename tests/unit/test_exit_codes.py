"""One table of exit codes: a batch's code from its summary, and the README saying the same."""

import re
from pathlib import Path

import pytest

from jobs.batch_summary import BatchSummary
from jobs.states import BatchState, JobState
from producer.exit_codes import ExitCode, batch_exit_code

README = Path(__file__).parents[2] / "README.md"


def summary(state: BatchState, *, failed: int = 0, rejected: int = 0) -> BatchSummary:
    counts = {s.value: 0 for s in JobState}
    counts.update(succeeded=5, failed=failed)
    return BatchSummary("b", "./out", counts, rejected, 0.15, state=state.value)


@pytest.mark.parametrize(
    ("batch", "code"),
    [
        (summary(BatchState.active), ExitCode.done),
        (summary(BatchState.active, failed=1), ExitCode.incomplete),
        (summary(BatchState.active, rejected=2), ExitCode.incomplete),
        (summary(BatchState.paused, failed=1), ExitCode.paused),
        (summary(BatchState.cancelled), ExitCode.cancelled),
        (summary(BatchState.cancelled, failed=1, rejected=1), ExitCode.cancelled),
    ],
)
def test_a_batch_s_summary_gives_its_exit_code(batch: BatchSummary, code: ExitCode) -> None:
    assert batch_exit_code(batch) == code


def test_the_readme_lists_every_exit_code_with_its_meaning() -> None:
    section = README.read_text().split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    rows = dict(re.findall(r"^\| (\d) \| (.+?) \|$", section, re.MULTILINE))
    assert sorted(map(int, rows)) == [code.value for code in ExitCode]
    assert "cancelled" in rows["4"]
    assert "paused" in rows["3"]
    assert "rejected" in rows["1"]
