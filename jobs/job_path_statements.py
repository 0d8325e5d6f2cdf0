"""The statements of a job's usual path, built once per process: claim, `generated`, `succeeded`.

A job that succeeds at its first attempt is written three times. Built here once, with bind
parameters, each write skips SQLAlchemy's construction of the statement on every call (about a
hundred clause coercions a job) and finds its compiled form in the engine's cache at once.

On PostgreSQL the claim, `generated` and the success are one statement each, run on their own (a
statement is atomic without BEGIN and COMMIT): a data-modifying CTE writes the job and its attempt
row together, so the claim is one round trip (besides the pool's ping) where it was five, the
success one where it was four, and `generated` one where it was three. SQLite has no such CTE; there
`jobs.claims` runs the same writes one after the other in a transaction.

The one-statement claim takes only what it is sure of: a job whose batch is active and has no
budget, or one already generated (stored whatever its batch's state). Anything else (a budget to
take from, a job final, leased, not due, or its batch paused) returns no row, and `jobs.claims`
takes the checked path, which finds out which and takes from the budget in a transaction.
"""

from sqlalchemy import DateTime, and_, bindparam, case, func, insert, or_, select, update

from jobs.schema import attempts_table, batches_table, jobs_table
from jobs.states import UNFINISHED_STATES, BatchState, JobState

# Every bind parameter is named here once; callers pass values under each one's `.key`. Names
# stay apart from every column's: SQLAlchemy keeps columns' names for the values of an UPDATE's
# SET.
#: the job, its lease's owner, the time of the write, the attempt's number
JOB = bindparam("held_job", type_=jobs_table.c.id.type)
OWNER = bindparam("held_owner", type_=jobs_table.c.lease_owner.type)
NOW = bindparam("held_now", type_=DateTime(timezone=True))
ATTEMPT = bindparam("held_attempt", type_=attempts_table.c.number.type)
#: a claim's lease expiry
LEASE_UNTIL = bindparam("lease_until", type_=DateTime(timezone=True))
#: the batch whose clock the first claim starts
STARTED_BATCH = bindparam("started_batch", type_=batches_table.c.id.type)
#: what the provider returned (`generated`)
GENERATED_URL = bindparam("generated_url", type_=jobs_table.c.provider_url.type)
GENERATED_IMAGE = bindparam("generated_image", type_=jobs_table.c.inline_image.type)
GENERATED_API_MS = bindparam("generated_api_ms", type_=jobs_table.c.api_ms.type)
GENERATED_COST = bindparam("generated_cost", type_=jobs_table.c.cost.type)
#: what the call was: its images and the gateway's ids for it (`PaidCall`)
CALL_IMAGES = bindparam("call_images", type_=attempts_table.c.images.type)
CALL_LOG_ID = bindparam("call_log_id", type_=attempts_table.c.log_id.type)
CALL_REQUEST_ID = bindparam("call_request_id", type_=attempts_table.c.request_id.type)
#: what storage kept (`succeeded`)
STORED_URI = bindparam("stored_uri", type_=jobs_table.c.output_uri.type)
STORED_SIZE = bindparam("stored_size", type_=jobs_table.c.bytes.type)
STORED_SHA256 = bindparam("stored_sha256", type_=jobs_table.c.sha256.type)
STORED_WIDTH = bindparam("stored_width", type_=jobs_table.c.width.type)
STORED_HEIGHT = bindparam("stored_height", type_=jobs_table.c.height.type)
STORED_FETCH_MS = bindparam("stored_fetch_ms", type_=jobs_table.c.fetch_ms.type)
STORED_STORE_MS = bindparam("stored_store_ms", type_=jobs_table.c.store_ms.type)
#: what the stored image is (jobs.content_address), so later jobs can copy it
STORED_ADDRESS = bindparam("stored_address", type_=jobs_table.c.address.type)

_GENERATED = JobState.generated.value

#: what a claim reads of its job (besides its state, and its batch's every column)
CLAIMED_JOB_COLUMNS = (
    jobs_table.c.key,
    jobs_table.c.spec,
    jobs_table.c.provider_url,
    jobs_table.c.inline_image,
    jobs_table.c.attempts,
    jobs_table.c.free_attempts,
    jobs_table.c.variant,
)

#: a job its owner still holds (any other write names the owner too, see `jobs.claims`)
_HELD = update(jobs_table).where(jobs_table.c.id == JOB, jobs_table.c.lease_owner == OWNER)

#: the provider returned images: their URLs or inline bytes kept, how long the call took, and
#: what it cost added to what the job cost before (a call paid again adds, never overwrites)
RECORD_GENERATED = _HELD.values(
    state=_GENERATED,
    provider_url=GENERATED_URL,
    inline_image=GENERATED_IMAGE,
    api_ms=GENERATED_API_MS,
    cost=func.coalesce(jobs_table.c.cost, 0.0) + GENERATED_COST,
    log_id=CALL_LOG_ID,
    updated_at=NOW,
)
#: what an attempt records of the call it paid for
_CALL = {
    "images": CALL_IMAGES,
    "cost": GENERATED_COST,
    "log_id": CALL_LOG_ID,
    "request_id": CALL_REQUEST_ID,
}
#: ... on the attempt (SQLite: run after RECORD_GENERATED, when that found the job held)
RECORD_CALL = (
    update(attempts_table)
    .where(attempts_table.c.job_id == JOB, attempts_table.c.number == ATTEMPT)
    .values(_CALL)
)
_generated = RECORD_GENERATED.returning(jobs_table.c.id).cte("generated")
#: PostgreSQL: both in one statement; the call is recorded only when the job was still held
RECORD_GENERATED_AT_ONCE = (
    update(attempts_table)
    .where(attempts_table.c.job_id == _generated.c.id, attempts_table.c.number == ATTEMPT)
    .values(_CALL)
)

#: the image is stored: the job's result, the signed URL and inline bytes dropped
RECORD_SUCCEEDED = _HELD.values(
    state=JobState.succeeded.value,
    output_uri=STORED_URI,
    bytes=STORED_SIZE,
    sha256=STORED_SHA256,
    width=STORED_WIDTH,
    height=STORED_HEIGHT,
    fetch_ms=STORED_FETCH_MS,
    store_ms=STORED_STORE_MS,
    address=STORED_ADDRESS,
    provider_url=None,
    inline_image=None,
    error_class=None,
    error_message=None,
    lease_owner=None,
    lease_expires_at=None,
    finished_at=NOW,
    updated_at=NOW,
)
#: ... and its attempt's (SQLite: run after RECORD_SUCCEEDED, when that found the job held)
CLOSE_ATTEMPT_SUCCEEDED = (
    update(attempts_table)
    .where(attempts_table.c.job_id == JOB, attempts_table.c.number == ATTEMPT)
    .values(finished_at=NOW, error_class=None, error_message=None)
)

_succeeded = RECORD_SUCCEEDED.returning(jobs_table.c.id).cte("succeeded")
#: PostgreSQL: both in one statement; the attempt is closed only when the job was still held
RECORD_SUCCEEDED_AT_ONCE = (
    update(attempts_table)
    .where(attempts_table.c.job_id == _succeeded.c.id, attempts_table.c.number == ATTEMPT)
    .values(finished_at=NOW, error_class=None, error_message=None)
)

#: the first claim of a batch's job starts the batch's clock
MARK_STARTED = (
    update(batches_table)
    .where(batches_table.c.id == STARTED_BATCH, batches_table.c.started_at.is_(None))
    .values(started_at=NOW)
)

_claimed = (
    update(jobs_table)
    .where(
        jobs_table.c.id == JOB,
        jobs_table.c.batch_id == batches_table.c.id,
        jobs_table.c.state.in_(UNFINISHED_STATES),
        jobs_table.c.lease_owner.is_(None),
        or_(jobs_table.c.due_at.is_(None), jobs_table.c.due_at <= NOW),
        or_(
            jobs_table.c.state == _GENERATED,
            and_(
                batches_table.c.state == BatchState.active.value,
                batches_table.c.max_images.is_(None),
                batches_table.c.max_cost.is_(None),
            ),
        ),
    )
    .values(
        # a generated job keeps its state: the claim is for the upload only
        state=case((jobs_table.c.state == _GENERATED, _GENERATED), else_=JobState.running.value),
        lease_owner=OWNER,
        lease_expires_at=LEASE_UNTIL,
        due_at=None,
        attempts=jobs_table.c.attempts + 1,
        updated_at=NOW,
    )
    .returning(jobs_table.c.id.label("job_id"), *CLAIMED_JOB_COLUMNS, *batches_table.c)
    .cte("claimed")
)
_attempt_row = insert(attempts_table).from_select(
    ["job_id", "number", "worker", "started_at"],
    select(_claimed.c.job_id, _claimed.c.attempts, OWNER, NOW),
)
#: PostgreSQL: claim the job and add its attempt row, in one statement; returns the job's
#: columns (`attempts` is this attempt's number) and its batch's, or no row
CLAIM_AT_ONCE = select(_claimed).add_cte(_attempt_row.cte("attempt_row"))
