"""Keeping the leases on the jobs this process is working on alive, so a dead worker's are not.

A job's lease is short (SEEDREAM_LEASE_SECONDS, a minute by default) so that the jobs of a killed
worker come back within about that long; a live call lasts longer than a lease (10-60 s, more
with a slow upload), so the holder renews it. One thread per process renews every lease the
process holds, a third of a lease apart, in one UPDATE.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from worker.identity import process_identity
from worker.periodic import PeriodicThread


class LeaseTable(Protocol):
    """Where leases are renewed: `jobs.results.ResultsTable`."""

    def renew_leases(self, job_ids: list[int], owner_prefix: str, lease_seconds: float) -> int: ...


class LeaseKeeper:
    """`with keeper.holding(job_id):` keeps the job's lease renewed until the block ends."""

    def __init__(self, table: LeaseTable, lease_seconds: float) -> None:
        self._table = table
        self._lease_seconds = lease_seconds
        self._held: dict[int, int] = {}  # job id -> threads holding it (one, bar a takeover)
        self._lock = threading.Lock()
        self._renewer = PeriodicThread("job-lease-renewer", lease_seconds / 3, self.renew)

    @contextmanager
    def holding(self, job_id: int) -> Iterator[None]:
        with self._lock:
            self._held[job_id] = self._held.get(job_id, 0) + 1
        self._renewer.ensure_running()
        try:
            yield
        finally:
            with self._lock:
                self._held[job_id] -= 1
                if not self._held[job_id]:
                    del self._held[job_id]

    def renew(self) -> None:
        """Extend every lease this process holds now (the renewer thread calls this)."""
        with self._lock:
            held = list(self._held)
        self._table.renew_leases(held, f"{process_identity()}:", self._lease_seconds)

    def stop(self) -> None:
        self._renewer.stop()
