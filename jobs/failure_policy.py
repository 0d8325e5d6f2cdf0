"""What a failed attempt does to its job: the one rule, for the worker and the reaper alike.

A job's attempt fails in two ways: its worker reports the error (`jobs.claims`), or its worker
dies and the reaper finds its lease expired (`jobs.recovery`, recorded as `worker_lost`). Both
ask `decide_failure`, a pure function of what is known about the attempt, so the rule is written
once and tested as a table (tests/unit/test_failure_policy.py); the callers only write down what
it decided. The wait before a retry comes from `jobs.backoff`, beside it.
"""

from dataclasses import dataclass
from enum import StrEnum

from jobs.errors import ErrorClass
from jobs.states import JobState


class Verdict(StrEnum):
    """What comes of a failed attempt."""

    #: the job waits for its due time, then the reaper sends it again
    retry = "retry"
    #: the account's problem, not the job's: the batch pauses, the job waits for `resume`
    pause = "pause"
    #: its batch was cancelled and the job has no image yet: it stops here
    cancel = "cancel"
    #: final: the error would repeat, or the job used its attempts
    fail = "fail"


@dataclass(frozen=True)
class FailedAttempt:
    """What the rule needs to know about one failed attempt."""

    error_class: ErrorClass
    #: whether the same request may well succeed later (`jobs.errors.JobError.retryable`)
    retryable: bool
    #: attempts so far, this one included, that count against the limit
    counted_attempts: int
    #: the provider already returned the job's image: a retry only stores it
    paid: bool
    #: the job's batch was cancelled meanwhile
    batch_cancelled: bool


@dataclass(frozen=True)
class Decision:
    """The job's next state, and what the caller writes beside it."""

    verdict: Verdict
    state: JobState
    #: seconds until the job is due again; None unless it is retried
    retry_in: float | None = None
    #: False when the attempt says nothing about the job (a pause, a rate limit): it is not
    #: counted against the job's attempt limit
    counts_attempt: bool = True

    @property
    def pauses_batch(self) -> bool:
        return self.verdict is Verdict.pause


#: transient errors that say nothing about the job itself: retried without counting
_NOT_THE_JOBS = frozenset({ErrorClass.rate_limited, ErrorClass.reuse_wait})


def decide_failure(failed: FailedAttempt, *, max_attempts: int, retry_in: float) -> Decision:
    """The rule, in order:

    * `auth` or `quota`: pause the batch; the job waits for `resume`, its attempt not counted.
    * `rate_limited`: retried, its attempt not counted. A refusal of our rate says nothing about
      the job, and counting it let a spent gateway burn every job's attempts and fail the
      batch; a gateway that refuses everything for minutes pauses the batch instead
      (`worker.gateway_health`), which is the backstop against retrying for ever.
    * `reuse_wait`: the same. The job waits for another job paying for the same image, whose
      own attempts bound the wait.
    * a retryable error with attempts left: the job waits `retry_in` seconds, as `generated`
      when its image is paid for (so only the upload is redone), unless its batch was cancelled
      and it has no image yet: then it is cancelled.
    * anything else fails the job.
    """
    waiting = JobState.generated if failed.paid else JobState.queued
    if failed.error_class.pauses_batch:
        return Decision(Verdict.pause, waiting, counts_attempt=False)
    if failed.error_class in _NOT_THE_JOBS and failed.retryable:
        if failed.batch_cancelled and not failed.paid:
            return Decision(Verdict.cancel, JobState.cancelled)
        return Decision(Verdict.retry, waiting, retry_in, counts_attempt=False)
    if failed.retryable and failed.counted_attempts < max_attempts:
        if failed.batch_cancelled and not failed.paid:
            return Decision(Verdict.cancel, JobState.cancelled)
        return Decision(Verdict.retry, waiting, retry_in)
    return Decision(Verdict.fail, JobState.failed)
