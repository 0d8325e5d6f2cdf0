"""The results table's shape (SQLAlchemy Core): batches, jobs, and every attempt of every job.

Rows are never deleted by the pipeline; an attempt row keeps each try's error class and message.
Columns added after a table was first made are nullable or have a server default, so
`jobs.migrate` can add them to an existing database.
"""

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)

metadata = MetaData()

#: BIGINT on PostgreSQL (a million-job batch a day adds up), INTEGER on SQLite (rowid alias)
_Id = BigInteger().with_variant(Integer(), "sqlite")
#: a job whose message is sent and not yet claimed (jobs.due_jobs.unsent says the same)
_UNSENT = "due_at IS NULL AND lease_owner IS NULL AND state IN ('queued', 'generated')"

batches_table = Table(
    "batches",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    #: when its first job was claimed (the start of its images/s and ETA)
    Column("started_at", DateTime(timezone=True)),
    Column("manifest", Text, nullable=False),
    #: SHA-256 of the manifest's bytes, so `--batch NAME` with another manifest is refused rather
    #: than resuming NAME; null for a batch recorded before this column was added
    Column("manifest_sha256", String(64)),
    #: where its images go: a folder or s3://bucket/prefix
    Column("output", Text, nullable=False),
    Column("model", String(200), nullable=False),
    #: rows the manifest had that failed validation (they are reported, not stored as jobs)
    Column("rejected", Integer, nullable=False, default=0),
    #: jobs.states.BatchState: active, paused (with its reason) or cancelled
    Column("state", String(20), nullable=False, server_default="active"),
    Column("paused_reason", Text),
    #: the budget, when the user set one; the price is fixed when the batch is made
    Column("max_images", Integer),
    Column("max_cost", Float),
    Column("price_per_image", Float, nullable=False, server_default="0.03"),
    #: calls that returned an image, plus calls in flight: what the budget is checked against
    Column("budget_used", Integer, nullable=False, server_default="0"),
    #: the schedule (config/schedules.yaml) that made it; null for a batch a person submitted
    Column("schedule", String(200)),
    #: the last webhook event claimed for it (`batch.completed`, `batch.paused`); null: none yet,
    #: or the batch ran again since (resume, retry)
    Column("notified", String(40)),
    #: its share of the fleet against the other active batches' (jobs.fair_share): a batch of
    #: weight 2 gets twice the calls of one of weight 1 while both have jobs waiting
    Column("weight", Float, nullable=False, server_default="1"),
    #: the most of its jobs sent or running at once (null: no cap), so one batch's slow calls
    #: cannot hold every worker thread
    Column("max_in_flight", Integer),
    #: its counts, spend, pace and errors once no job of it is unfinished, so `status` does not
    #: count a finished million-job batch again (jobs.kept_summaries); cleared by retry, resume
    Column("final_summary", JSON),
    #: the images each row asks for unless it says (`--variants`; jobs.variants): kept so that a
    #: resume with another number is refused rather than silently ignored
    Column("variants", Integer, nullable=False, server_default="1"),
    #: `--fresh`: its jobs pay for new images even where an image of the same content address
    #: is stored (jobs.content_address); their own images can still be reused by later batches
    Column("fresh", Boolean, nullable=False, server_default=false()),
)

jobs_table = Table(
    "jobs",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("batch_id", String(100), ForeignKey("batches.id"), nullable=False),
    Column("key", String(200), nullable=False),
    Column("line", Integer, nullable=False),
    #: the API `input` object, exactly as it will be sent
    Column("spec", JSON, nullable=False),
    Column("metadata", JSON, nullable=False),
    Column("state", String(20), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    #: who holds the job ("host:pid:thread") and until when; an expired lease may be taken over
    Column("lease_owner", String(200)),
    Column("lease_expires_at", DateTime(timezone=True)),
    Column("error_class", String(40)),
    Column("error_message", Text),
    #: waiting to be sent from then on: the dispatcher sends it when it is due and its batch's
    #: turn comes (worker.dispatcher); null once its message is sent, while it runs, and once final
    Column("due_at", DateTime(timezone=True)),
    #: when the dispatcher last sent its message
    Column("sent_at", DateTime(timezone=True)),
    #: attempts that do not count against the limit: those before a `retry`, and those a batch
    #: pause cut short
    Column("free_attempts", Integer, nullable=False, server_default="0"),
    #: the provider's image URLs, one per line (a URL holds no line break), kept until the images
    #: are stored (resume without paying again)
    Column("provider_url", Text),
    #: an image the provider returned inline (no URL), kept until it is stored, for the same reason
    Column("inline_image", LargeBinary),
    Column("output_uri", Text),
    Column("bytes", BigInteger),
    Column("sha256", String(64)),
    Column("width", Integer),
    Column("height", Integer),
    Column("api_ms", Integer),
    Column("fetch_ms", Integer),
    Column("store_ms", Integer),
    #: what the provider billed for this job so far: every paid call's images at the batch's
    #: price, a call paid again (after a crash, a bad image, a retry) included
    Column("cost", Float),
    #: AI Gateway's `cf-aig-log-id` of the call whose images were stored: where a billing
    #: question about the job is settled, in the gateway's logs
    Column("log_id", String(100)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    #: which of its row's variants the job is, from 1 (its key is `{id}/{variant}`); null for a
    #: row that asked for one image (jobs.variants)
    Column("variant", Integer),
    #: what its image is (jobs.content_address), kept once it succeeded: a later job with the
    #: same address copies the image instead of paying for it; null before, and for a job whose
    #: input image is a URL
    Column("address", String(64)),
    #: the job whose stored image this one copied instead of paying (null: it paid, or is not
    #: done)
    Column("reused_from", _Id),
    #: what a reused job's copied images would have cost at the batch's price (null: it paid)
    Column("saved", Float),
    UniqueConstraint("batch_id", "key", name="uq_jobs_batch_key"),
    Index("ix_jobs_batch_state", "batch_id", "state"),
    # the queue of record: the due jobs of one batch in the order they are sent (jobs.due_jobs);
    # partial, so the finished jobs of a million-job batch cost a dispatcher turn nothing
    Index(
        "ix_jobs_batch_due",
        "batch_id",
        "due_at",
        "id",
        postgresql_where=text("due_at IS NOT NULL"),
        sqlite_where=text("due_at IS NOT NULL"),
    ),
    # the jobs of a batch whose message is out and unclaimed: the dispatcher's window, and what
    # `resume` makes due again (messages a worker refused while the batch was paused)
    Index(
        "ix_jobs_batch_unsent",
        "batch_id",
        "id",
        postgresql_where=text(_UNSENT),
        sqlite_where=text(_UNSENT),
    ),
    Index(
        "ix_jobs_waiting",
        "state",
        postgresql_where=text("state IN ('queued', 'generated')"),
        sqlite_where=text("state IN ('queued', 'generated')"),
    ),
    # where a job looks for an image it need not pay for: only succeeded jobs have an address
    Index(
        "ix_jobs_address",
        "address",
        postgresql_where=text("address IS NOT NULL"),
        sqlite_where=text("address IS NOT NULL"),
    ),
    Index(
        "ix_jobs_lease",
        "lease_expires_at",
        postgresql_where=text("lease_expires_at IS NOT NULL"),
        sqlite_where=text("lease_expires_at IS NOT NULL"),
    ),
)

attempts_table = Table(
    "attempts",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("job_id", _Id, ForeignKey("jobs.id"), nullable=False, index=True),
    Column("number", Integer, nullable=False),
    Column("worker", String(200), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    #: null while the attempt runs or when it succeeded
    Column("error_class", String(40)),
    Column("error_message", Text),
    #: the attempt's call returned images, each billed: how many, what they cost, and the
    #: gateway's ids for the call (`cf-aig-log-id`, `cf-aig-request-id`); null when it paid
    #: for nothing (it failed before an image, or only stored one paid for earlier)
    Column("images", Integer),
    Column("cost", Float),
    Column("log_id", String(100)),
    Column("request_id", String(100)),
)

#: Every image of a job whose call returned several (stored as `{batch}/{key}/{n}.{ext}`); the
#: job's own row keeps the first one's facts too, so what reads one image per job reads such jobs
#: unchanged, and a job with one image has no rows here.
job_images_table = Table(
    "job_images",
    metadata,
    Column("job_id", _Id, ForeignKey("jobs.id"), primary_key=True),
    #: the image's place in the provider's answer, from 0
    Column("n", Integer, primary_key=True),
    Column("output_uri", Text, nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
)

#: The job paying for each content address right now: the first to insert its address pays, and
#: any other job with that address waits for the image and copies it, so two jobs asking for one
#: image at once pay once. The row goes when its job succeeds (the job's own `address` takes
#: over); one whose job failed or was cancelled is taken over by the next job that asks.
paying_addresses_table = Table(
    "paying_addresses",
    metadata,
    Column("address", String(64), primary_key=True),
    #: no foreign key: `prune` deletes old jobs, and a row naming a job gone is simply taken over
    Column("job_id", _Id, nullable=False),
    Column("since", DateTime(timezone=True), nullable=False),
)
