"""One fire of a schedule: its manifest becomes a batch named after the fire time, at most once.

Two beats, or a message delivered twice, fire the same schedule at the same time: the batch name
comes from the fire time and is the table's primary key, so the second insert conflicts and that
fire is skipped. A fire while the schedule's previous batch still runs (active, some job not
final) is skipped too, with a log line: runs of one schedule never pile up.

The fire arrives as a message on the broker, so its manifest and output are checked against the
workers' roots (producer.location_roots) before anything is read or recorded: a fire naming a
place outside them is refused with an error in the log, and leaves no batch behind.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path, PurePosixPath
from tempfile import TemporaryDirectory

from config.settings import Settings
from jobs.batch_summary import Shown, shown_state
from jobs.dispatch import Wake
from jobs.results import BatchExists, ResultsTable
from jobs.schedules import Schedule
from producer.location_roots import OutsideRoots, require_under_roots
from producer.manifest_formats import ManifestError
from producer.submission import SubmissionError, submit_manifest
from worker.storage.s3 import s3_client, split_s3_uri

log = logging.getLogger(__name__)


class FireOutcome(StrEnum):
    """What a fire did."""

    #: the batch was made and its jobs queued
    started = "started"
    #: the batch of this fire exists already (another beat, a re-delivered message)
    exists = "exists"
    #: the schedule's previous batch still runs
    previous_running = "previous_running"
    #: its manifest or output is outside the workers' roots: nothing was read or recorded
    refused = "refused"
    #: its manifest is missing, unreadable or has no valid row: nothing was recorded
    bad_manifest = "bad_manifest"


@dataclass(frozen=True)
class Fire:
    outcome: FireOutcome
    #: the batch this fire names
    batch: str
    jobs: int = 0


def start_scheduled_batch(
    table: ResultsTable,
    settings: Settings,
    schedule: Schedule,
    fired_at: datetime,
    wake: Wake,
) -> Fire:
    """Make the batch of `schedule`'s fire at `fired_at`, unless its manifest or output
    is outside the roots, its batch exists, or the schedule's previous batch still runs."""
    name = schedule.batch_name(fired_at)
    output = schedule.output or settings.output
    try:
        require_under_roots(schedule.manifest, settings.manifest_roots, "SEEDREAM_MANIFEST_ROOTS")
        require_under_roots(output, (settings.output, *settings.output_roots),
                            "SEEDREAM_OUTPUT_ROOTS")  # fmt: skip
    except OutsideRoots as exc:
        log.error("schedule %s: refused the run at %s (%s): %s",
                  schedule.name, fired_at.isoformat(), name, exc)  # fmt: skip
        return Fire(FireOutcome.refused, name)
    previous = table.latest_of_schedule(schedule.name)
    # read after: made meanwhile by another process, this fire's batch shows as the previous one
    if table.get_batch(name) is not None or (previous is not None and previous.id == name):
        log.info("schedule %s: batch %s exists already; not started again", schedule.name, name)
        return Fire(FireOutcome.exists, name)
    if previous is not None and shown_state(previous, table.progress(previous.id)) is Shown.running:
        log.warning("schedule %s: skipped the run at %s (%s): its previous batch %s still runs",
                    schedule.name, fired_at.isoformat(), name, previous.id)  # fmt: skip
        return Fire(FireOutcome.previous_running, name)
    with local_manifest(schedule.manifest) as manifest:
        try:
            submission = submit_manifest(
                table,
                settings,
                manifest,
                output=output,
                batch_name=name,
                wake=wake,
                max_images=schedule.max_images,
                max_cost=schedule.max_cost,
                allow_partial=schedule.allow_partial,
                fresh=schedule.fresh,
                share=schedule.share,
                variants=schedule.variants,
                model=schedule.model,
                schedule=schedule.name,
                source=schedule.manifest,
            )
        except BatchExists:
            log.info("schedule %s: batch %s was made meanwhile; not started again",
                     schedule.name, name)  # fmt: skip
            return Fire(FireOutcome.exists, name)
        except (ManifestError, SubmissionError) as exc:
            # a person fixes the file; the next fire reads it again (a traceback would not help)
            log.error("schedule %s: the run at %s (%s) was not started: %s",
                      schedule.name, fired_at.isoformat(), name, exc)  # fmt: skip
            return Fire(FireOutcome.bad_manifest, name)
    loaded = submission.report.loaded if submission.report is not None else 0
    log.info("schedule %s: batch %s started, %d jobs", schedule.name, name, loaded)
    return Fire(FireOutcome.started, name, loaded)


@contextmanager
def local_manifest(location: str) -> Iterator[Path]:
    """The manifest as a local file: a path as it is, an s3://bucket/key downloaded to a
    temporary folder for the time of the block (boto3's endpoint and credentials)."""
    if not location.startswith("s3://"):
        yield Path(location)
        return
    bucket, key = split_s3_uri(location)
    with TemporaryDirectory(prefix="seedream-manifest-") as folder:
        path = Path(folder) / PurePosixPath(key).name
        s3_client().download_file(bucket, key, str(path))
        yield path
