"""Completing a job by copying an image already paid for, instead of calling the model.

Before a job that has no image yet is called, its content address (jobs.content_address) is
looked up among succeeded jobs, of this batch or any other: when one's image is still in
storage, it is copied to this job's key (server-side from S3 to S3 on one endpoint) and the job
succeeds with no call, its cost nothing and `reused_from` naming the source. When none is, the
job takes the address to pay for it (jobs.reuse_records); if another job holds it, being paid for
right now, this one waits (jobs.errors.ReuseWait) and copies that image when it is stored, so two
jobs asking for one image at once pay once. A batch made with `--fresh` pays for every image.
"""

import time
from collections.abc import Callable

from jobs.errors import ReuseWait
from jobs.records import Claim, StoredImage, StoredOutput
from jobs.results import ResultsTable
from jobs.reuse_records import ReuseSource
from worker.images import CONTENT_TYPES
from worker.object_metadata import object_metadata
from worker.storage import Storage, object_key

#: How long a job waits for another job paying for the same image before it looks again. A call
#: takes 10-60 s: a waiter looks a few times during one, and copies within seconds of its end.
REUSE_WAIT_S = 10.0


class ImageReuse:
    """Reuse for one worker process: its table, and its storages by location."""

    def __init__(self, table: ResultsTable, storage_for: Callable[[str], Storage]) -> None:
        self.table = table
        self.storage_for = storage_for

    def copied(self, claim: Claim, owner: str) -> bool:
        """Complete the job with a copy of a stored image of its address, if there is one; else
        take the address to pay for it (False), or raise ReuseWait when another job holds it."""
        address = claim.address
        if address is None or claim.batch.fresh:
            return False
        several = claim.model.most_images(claim.spec) > 1
        for source in self.table.reuse_sources(address, claim.job_id, several=several):
            started = time.monotonic()
            stored = self._copy(claim, source, several)
            if stored is None:  # deleted from storage since: never offered again
                self.table.forget_source(source.job_id)
                continue
            took = round((time.monotonic() - started) * 1000)
            output = StoredOutput(stored, fetch_ms=0, store_ms=took)
            self.table.record_reused(claim, owner, source.job_id, output)
            return True
        holder = self.table.hold_address(address, claim.job_id)
        if holder != claim.job_id:
            raise ReuseWait(
                f"job {holder} is paying for the same image; this job copies it once it is stored",
                retry_after=REUSE_WAIT_S,
            )
        return False

    def paid(self, claim: Claim) -> None:
        """The job paid for its image and stored it: the address it held is let go (its own row
        now tells where the image is)."""
        if claim.address is not None and not claim.batch.fresh:
            self.table.release_address(claim.address, claim.job_id)

    def _copy(
        self, claim: Claim, source: ReuseSource, several: bool
    ) -> tuple[StoredImage, ...] | None:
        """The source's images copied under this job's keys (`{key}/{n}` for a job of
        `several`); None when one is gone."""
        origin = self.storage_for(source.output)
        target = self.storage_for(claim.batch.output)
        metadata = object_metadata(claim) | {"reused-from": str(source.job_id)}
        copies: list[StoredImage] = []
        for n, image in enumerate(source.images):
            extension = image.output_uri.rpartition(".")[2]
            suffix = f"/{n}" if several else ""
            to_key = object_key(claim.batch.id, claim.key + suffix, extension)
            found = origin.copy_to(
                object_key(source.batch_id, source.key + suffix, extension),
                target,
                to_key,
                CONTENT_TYPES.get(extension, "application/octet-stream"),
                metadata,
            )
            if not found:
                return None
            copies.append(
                StoredImage(target.uri(to_key), image.size, image.sha256, image.width, image.height)
            )
        return tuple(copies)
