"""Counting what a manifest (or campaign) would cost before anything is recorded or called.

One pass over the rows, as the load reads them: the same validation, the same key check, so the
jobs counted are the jobs a run records and the images counted the most its calls may be billed
for (one a call; a Seedream 4.5 job with `max_images` up to that many). `run --dry-run`,
`expand --estimate`, `--max-cost` and `doctor MANIFEST` all count here.
"""

from collections.abc import Callable
from dataclasses import dataclass

from jobs.spec import JobSpec
from producer.manifest import ManifestReader, RejectedRow


@dataclass
class JobCount:
    """What a manifest's rows come to."""

    jobs: int = 0
    #: the most images the jobs' calls may return, each billed
    images: int = 0
    #: rows rejected (a campaign's: data rows)
    rejected: int = 0

    def cost(self, price_per_image: float) -> float:
        """The most the provider bills for the images at the model's price."""
        return self.images * price_per_image


def count_jobs(
    reader: ManifestReader,
    on_reject: Callable[[RejectedRow], None],
    each_job: Callable[[JobSpec, int], None] | None = None,
) -> JobCount:
    """Read every row of `reader` and count its jobs and images; each bad row goes to
    `on_reject` as the load would send it, and each job, with the most images its call may
    return, to `each_job` when given."""
    count = JobCount()
    most_images = reader.model.most_images
    for row in reader:
        if isinstance(row, JobSpec):
            images = most_images(row.input)
            count.jobs += 1
            count.images += images
            if each_job is not None:
                each_job(row, images)
        else:
            count.rejected += 1
            on_reject(row)
    return count
