"""The life of a job in the results table (docs/design.md, "States")."""

from enum import StrEnum


class JobState(StrEnum):
    """Where a job stands. The table, not the queue, is the source of truth."""

    #: validated and recorded; a message for it is (or should be) on the queue
    queued = "queued"
    #: claimed by a worker under a lease; the provider may be generating it now
    running = "running"
    #: the provider returned an image that is not stored yet: resume at the upload, never the API
    generated = "generated"
    #: the image is stored; the row holds its URI, size, sha256 and timings
    succeeded = "succeeded"
    #: a final error, or a transient one that used up its attempts
    failed = "failed"
    #: stopped by the user before it ran
    cancelled = "cancelled"

    @property
    def terminal(self) -> bool:
        """True for states no worker will ever move the job out of by itself."""
        return self in TERMINAL_STATES


TERMINAL_STATES = frozenset({JobState.succeeded, JobState.failed, JobState.cancelled})
#: the other states' values, as a query matches a job not yet final (`state.in_(...)`)
UNFINISHED_STATES = tuple(sorted(state.value for state in JobState if state not in TERMINAL_STATES))


class BatchState(StrEnum):
    """Whether a batch's jobs may run. Jobs keep their own states; this gates them all at once."""

    #: its jobs run as workers take them
    active = "active"
    #: no job starts until `resume`: the provider refused the account (auth, quota) or the
    #: batch's budget is spent; `paused_reason` says which
    paused = "paused"
    #: `cancel` stopped its queued jobs; running ones finished, nothing else will start
    cancelled = "cancelled"
