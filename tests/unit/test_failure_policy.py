"""What a failed attempt does to its job: the whole rule as one table.

Each row is one failure, as the worker (`jobs.claims`) or the reaper (`jobs.recovery`) reports
it, and what must come of it. A change to the rule is a change to this table.
"""

import pytest

from jobs.errors import ErrorClass
from jobs.failure_policy import Decision, FailedAttempt, Verdict, decide_failure
from jobs.states import JobState

MAX_ATTEMPTS = 5
RETRY_IN = 8.0

#: the worker reports errors of these classes as retryable (lost connections among `internal`);
#: `rate_limited` is retryable too but never counted (its own rows below)
RETRYABLE = [
    ErrorClass.server_error,
    ErrorClass.timeout,
    ErrorClass.storage,
    ErrorClass.internal,
    ErrorClass.worker_lost,
]
#: ... and these as final (a program error among `internal`)
FINAL = [
    ErrorClass.invalid_input,
    ErrorClass.content_policy,
    ErrorClass.bad_image,
    ErrorClass.internal,
]
PAUSING = [ErrorClass.auth, ErrorClass.quota]

RETRY_QUEUED = Decision(Verdict.retry, JobState.queued, RETRY_IN)
RETRY_GENERATED = Decision(Verdict.retry, JobState.generated, RETRY_IN)
FAILED = Decision(Verdict.fail, JobState.failed)
CANCELLED = Decision(Verdict.cancel, JobState.cancelled)
PAUSED_QUEUED = Decision(Verdict.pause, JobState.queued, counts_attempt=False)
PAUSED_GENERATED = Decision(Verdict.pause, JobState.generated, counts_attempt=False)
FREE_RETRY_QUEUED = Decision(Verdict.retry, JobState.queued, RETRY_IN, counts_attempt=False)
FREE_RETRY_GENERATED = Decision(Verdict.retry, JobState.generated, RETRY_IN, counts_attempt=False)


def failure(
    error_class: ErrorClass,
    retryable: bool,
    attempt: int = 1,
    *,
    paid: bool = False,
    cancelled: bool = False,
) -> FailedAttempt:
    return FailedAttempt(
        error_class=error_class,
        retryable=retryable,
        counted_attempts=attempt,
        paid=paid,
        batch_cancelled=cancelled,
    )


CASES = [
    # retryable errors: retried while attempts are left, as `generated` once the image is paid
    *[(failure(c, True), RETRY_QUEUED) for c in RETRYABLE],
    *[(failure(c, True, MAX_ATTEMPTS - 1), RETRY_QUEUED) for c in RETRYABLE],
    *[(failure(c, True, paid=True), RETRY_GENERATED) for c in RETRYABLE],
    # ... and failed by their last attempt, paid for or not
    *[(failure(c, True, MAX_ATTEMPTS), FAILED) for c in RETRYABLE],
    *[(failure(c, True, MAX_ATTEMPTS, paid=True), FAILED) for c in RETRYABLE],
    # final errors (a program error among them) fail at the first attempt, paid for or not
    *[(failure(c, False), FAILED) for c in FINAL],
    *[(failure(c, False, paid=True), FAILED) for c in FINAL],
    *[(failure(c, False, cancelled=True), FAILED) for c in FINAL],
    # auth and quota pause the batch, whatever the attempt: it is not the job's fault
    *[(failure(c, False), PAUSED_QUEUED) for c in PAUSING],
    *[(failure(c, False, MAX_ATTEMPTS), PAUSED_QUEUED) for c in PAUSING],
    *[(failure(c, False, paid=True), PAUSED_GENERATED) for c in PAUSING],
    # a refusal of our rate says nothing about the job: retried, not counted, even at the limit
    (failure(ErrorClass.rate_limited, True), FREE_RETRY_QUEUED),
    (failure(ErrorClass.rate_limited, True, MAX_ATTEMPTS), FREE_RETRY_QUEUED),
    (failure(ErrorClass.rate_limited, True, MAX_ATTEMPTS + 3), FREE_RETRY_QUEUED),
    (failure(ErrorClass.rate_limited, True, MAX_ATTEMPTS, paid=True), FREE_RETRY_GENERATED),
    (failure(ErrorClass.rate_limited, True, cancelled=True), CANCELLED),
    # a cancelled batch: a job with no image stops; a paid-for one is still stored
    (failure(ErrorClass.server_error, True, cancelled=True), CANCELLED),
    (failure(ErrorClass.worker_lost, True, cancelled=True), CANCELLED),
    (failure(ErrorClass.storage, True, paid=True, cancelled=True), RETRY_GENERATED),
    (failure(ErrorClass.worker_lost, True, paid=True, cancelled=True), RETRY_GENERATED),
    # ... unless that was its last attempt: it failed
    (failure(ErrorClass.server_error, True, MAX_ATTEMPTS, cancelled=True), FAILED),
    (failure(ErrorClass.worker_lost, True, MAX_ATTEMPTS, cancelled=True), FAILED),
    # past the limit (a limit lowered meanwhile) is the same as at it
    (failure(ErrorClass.timeout, True, MAX_ATTEMPTS + 3), FAILED),
]


def case_id(value: object) -> str:
    """`server_error-retryable-attempt1-paid` -> `retry-queued`: what a row reads as."""
    if isinstance(value, Decision):
        return f"{value.verdict}-{value.state}"
    assert isinstance(value, FailedAttempt)
    facts = [
        str(value.error_class),
        "retryable" if value.retryable else "final",
        f"attempt{value.counted_attempts}",
    ]
    facts += ["paid"] * value.paid + ["cancelled"] * value.batch_cancelled
    return "-".join(facts)


@pytest.mark.parametrize(("failed", "expected"), CASES, ids=case_id)
def test_a_failed_attempt_leads_to_what_the_table_says(
    failed: FailedAttempt, expected: Decision
) -> None:
    assert decide_failure(failed, max_attempts=MAX_ATTEMPTS, retry_in=RETRY_IN) == expected


@pytest.mark.parametrize(
    ("decision", "counted", "pauses"),
    [
        (RETRY_QUEUED, True, False),
        (FAILED, True, False),
        (CANCELLED, True, False),
        (PAUSED_QUEUED, False, True),
        (FREE_RETRY_QUEUED, False, False),
    ],
)
def test_only_a_pause_or_a_rate_limit_leaves_the_attempt_uncounted(
    decision: Decision, counted: bool, pauses: bool
) -> None:
    assert (decision.counts_attempt, decision.pauses_batch) == (counted, pauses)


def test_a_single_attempt_limit_still_pauses_rather_than_fails() -> None:
    decision = decide_failure(failure(ErrorClass.quota, False), max_attempts=1, retry_in=RETRY_IN)

    assert decision == PAUSED_QUEUED
