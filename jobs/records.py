"""What the results table hands out: a batch, a claimed job, a stored image, a duplicate row."""

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from jobs.models import ModelAdapter, ModelInput, model_named
from jobs.states import TERMINAL_STATES, BatchState, JobState

#: the weight of a batch nobody gave one: every such batch gets an equal share
DEFAULT_WEIGHT = 1.0


@dataclass(frozen=True)
class Share:
    """How a batch shares the fleet with the other batches that run (jobs.fair_share)."""

    #: its calls are in proportion to its weight while others have jobs due too
    weight: float = DEFAULT_WEIGHT
    #: the most of its jobs sent or running at once; None: no cap beyond the fleet's
    max_in_flight: int | None = None


#: what a batch gets unless it says otherwise
EQUAL_SHARE = Share()


@dataclass(frozen=True)
class Batch:
    """A batch as the table knows it."""

    id: str
    manifest: str
    output: str
    model: str
    rejected: int
    state: BatchState = BatchState.active
    paused_reason: str | None = None
    max_images: int | None = None
    max_cost: float | None = None
    price_per_image: float = 0.03
    #: calls that returned an image, plus calls in flight
    budget_used: int = 0
    created_at: datetime | None = None
    #: when its first job was claimed; None until then
    started_at: datetime | None = None
    #: the schedule that made it (None: submitted by a person)
    schedule: str | None = None
    #: the last webhook event claimed for it
    notified: str | None = None
    #: SHA-256 of the manifest it was made from (None: recorded before it was kept)
    manifest_sha256: str | None = None
    #: how it shares the fleet with the other batches that run
    share: Share = EQUAL_SHARE
    #: the images each manifest row asks for unless it says (jobs.variants)
    variants: int = 1
    #: `--fresh`: its jobs pay for new images rather than copy stored ones (jobs.content_address)
    fresh: bool = False

    @property
    def image_cap(self) -> int | None:
        """The most calls that may return an image: the tighter of --max-images and --max-cost
        at the batch's price; None when no budget was set."""
        caps = []
        if self.max_images is not None:
            caps.append(self.max_images)
        if self.max_cost is not None:
            # a little slack so that $0.09 at $0.03 is 3 images, not 2.9999
            caps.append(math.floor(self.max_cost / self.price_per_image + 1e-9))
        return min(caps) if caps else None

    @classmethod
    def from_row(cls, row: Any) -> "Batch":
        """From a row of `batches` (or a join that includes all its columns)."""
        return cls(
            id=row["id"],
            manifest=row["manifest"],
            output=row["output"],
            model=row["model"],
            rejected=row["rejected"],
            state=BatchState(row["state"]),
            paused_reason=row["paused_reason"],
            max_images=row["max_images"],
            max_cost=row["max_cost"],
            price_per_image=row["price_per_image"],
            budget_used=row["budget_used"],
            created_at=as_utc(row["created_at"]),
            started_at=as_utc(row["started_at"]),
            schedule=row["schedule"],
            notified=row["notified"],
            manifest_sha256=row["manifest_sha256"],
            share=Share(float(row["weight"]), row["max_in_flight"]),
            variants=row["variants"],
            fresh=bool(row["fresh"]),
        )


@dataclass(frozen=True)
class BatchProgress:
    """How far a batch has got, read in one query."""

    counts: dict[JobState, int]
    spend_usd: float
    #: when its last job to finish did; None before any did
    last_finished_at: datetime | None
    #: jobs that finished at or after `since`, by state (the batch's recent pace); empty when
    #: the reader asked for no `since`
    since: datetime | None = None
    recent: dict[JobState, int] = field(default_factory=dict)
    #: jobs completed by copying images already paid for, and what those would have cost
    reused: int = 0
    saved_usd: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def finished(self) -> int:
        return sum(self.counts[state] for state in TERMINAL_STATES)


@dataclass(frozen=True)
class Claim:
    """A job a worker now holds the lease on, with what it needs to finish it."""

    job_id: int
    batch: Batch
    key: str
    spec: ModelInput
    #: the provider already returned these images (state `generated`): store them, do not call
    #: again
    provider_urls: tuple[str, ...]
    #: ... or returned one inline, and these are its bytes
    inline_image: bytes | None
    attempt: int
    #: attempts before this one that do not count against the limit (see jobs.schema)
    free_attempts: int = 0
    #: the images this claim took from the batch's budget (the most its call may return), to
    #: give back for those the call does not return
    budgeted: int = 0
    #: what its image is (jobs.content_address); None when an input image is a URL
    address: str | None = None

    @property
    def model(self) -> ModelAdapter:
        """The batch's model: what is called, and how its answer is read."""
        return model_named(self.batch.model)

    @property
    def paid_for(self) -> bool:
        """True when the images exist already: this attempt only stores them."""
        return bool(self.provider_urls) or self.inline_image is not None

    @property
    def counted_attempts(self) -> int:
        """Attempts so far, this one included, that count against SEEDREAM_MAX_ATTEMPTS."""
        return self.attempt - self.free_attempts


@dataclass(frozen=True)
class PaidCall:
    """A call the provider answered with images, each billed at the batch's price."""

    images: int
    #: AI Gateway's ids for the call (`cf-aig-log-id`, `cf-aig-request-id`), when it sent them
    log_id: str | None = None
    request_id: str | None = None


@dataclass(frozen=True)
class StoredImage:
    """One image in storage, as the table records it."""

    output_uri: str
    size: int
    sha256: str
    width: int
    height: int


@dataclass(frozen=True)
class StoredOutput:
    """Every image of a job's call, stored, and how long fetching and storing them took."""

    images: tuple[StoredImage, ...]
    fetch_ms: int
    store_ms: int

    def __post_init__(self) -> None:
        if not self.images:
            raise ValueError("a stored output holds at least one image")


def as_utc(moment: datetime | None) -> datetime | None:
    """A time read from the table, aware and in UTC (SQLite hands back naive UTC times)."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
