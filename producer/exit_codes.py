"""What every `seedream-batch` command exits with, so a script can tell the outcomes apart.

| code | meaning |
|---|---|
| 0 | everything asked for is done (every job succeeded; a read-only command answered) |
| 1 | the batch finished but not wholly: some jobs failed, or some manifest rows were rejected |
| 2 | usage, configuration or input error; nothing was started (`doctor`: a check failed) |
| 3 | the batch is paused (auth, quota, budget, or by hand); `resume` carries on |
| 4 | the batch was cancelled |

A batch's own code (1, 3, 4 or 0) is `batch_exit_code(summary)`; the commands
that wait for a batch exit with it. Click's own usage errors (an unknown option) exit 2 too.
"""

from enum import IntEnum

from jobs.batch_summary import BatchSummary, Shown
from jobs.states import JobState


class ExitCode(IntEnum):
    """The codes of the table above."""

    #: everything asked for is done
    done = 0
    #: the batch finished, but some jobs failed or some manifest rows were rejected
    incomplete = 1
    #: usage, configuration or input error: nothing was started
    refused = 2
    #: the batch is paused; `resume` carries on
    paused = 3
    #: the batch was cancelled
    cancelled = 4


def batch_exit_code(summary: BatchSummary) -> ExitCode:
    """What a command that waited for the batch exits with: cancelled, paused, incomplete (a
    job failed or a manifest row was rejected), or done."""
    if summary.state == Shown.cancelled:
        return ExitCode.cancelled
    if summary.state == Shown.paused:
        return ExitCode.paused
    if summary.counts[JobState.failed.value] or summary.rejected:
        return ExitCode.incomplete
    return ExitCode.done
