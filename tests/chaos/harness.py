"""A batch run through trouble, and what must hold afterwards, however it went.

`ChaosFleet` is the system under test as a user deploys it: `seedream-batch worker` processes
on a private Redis, the table on PostgreSQL, S3 (moto) behind a proxy that can go down, the
emulator. `Outcome` is everything the invariants are checked against, read from the outside:
the table, the bucket, and what the emulator billed.
"""

import json
import signal
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import redis
import sqlalchemy

from jobs.redis_keys import dispatcher_turn
from tests.support.commands import cli, submit, wait_for_final
from tests.support.databases import connected
from tests.support.manifests import TestManifest, write_manifest
from tests.support.processes import CLI, Service
from tests.support.services import Emulator

#: settings that make recovery quick enough to watch: short leases, a busy reaper, short backoff
FAST_RECOVERY = {
    "SEEDREAM_CONCURRENCY": "8",
    "SEEDREAM_LEASE_SECONDS": "4",
    "SEEDREAM_REAPER_INTERVAL_SECONDS": "1",
    "SEEDREAM_RETRY_BASE_SECONDS": "0.5",
    "SEEDREAM_RETRY_MAX_SECONDS": "4",
    "SEEDREAM_API_TIMEOUT_SECONDS": "10",
}


@dataclass
class ChaosFleet:
    """Worker processes that can be killed and restarted, and the commands a user would type."""

    env: dict[str, str]
    cwd: Path
    logs: Path
    workers: list[Service] = field(default_factory=list)
    started: int = 0

    def start(self, count: int) -> None:
        for _ in range(count):
            self.workers.append(self._worker())

    def kill_and_restart(self, index: int) -> None:
        """SIGKILL worker `index` (no warm shutdown, nothing acknowledged) and start a new one."""
        self.workers[index].stop(signal.SIGKILL)
        self.workers[index] = self._worker()

    def kill(self, index: int) -> None:
        """SIGKILL worker `index` for good: the fleet goes on with one process fewer."""
        self.workers.pop(index).stop(signal.SIGKILL)

    def dispatcher_holder(self) -> str | None:
        """Who holds the fleet's dispatcher turn now (`host:pid`), read from its Redis key."""
        client = redis.Redis.from_url(self.env["SEEDREAM_BROKER_URL"])
        try:
            key = dispatcher_turn(self.env["CLOUDFLARE_ACCOUNT_ID"])
            holder = cast(bytes | None, client.get(key))
        finally:
            client.close()
        return None if holder is None else holder.decode()

    def worker_holding(self, holder: str) -> int:
        """The index of the worker whose process holds the turn `holder` names (`host:pid`)."""
        pid = int(holder.split(":")[1])
        for index, worker in enumerate(self.workers):
            if worker.process.pid == pid:  # `seedream-batch worker` runs Celery in its process
                return index
        raise AssertionError(f"the turn is held by {holder}, which is no worker of the fleet")

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()

    def submit(self, manifest: TestManifest, bucket: str, *options: str) -> str:
        """Submit the manifest as a new batch (with `submit`'s `options`); returns its name."""
        batch, _ = submit(
            manifest.path.name, f"s3://{bucket}/runs", self.env, self.cwd, options=options
        )
        return batch

    def command(self, *args: str, out: bool = False) -> str:
        """Run a `seedream-batch` command; returns what it said on stderr (stdout with `out`)."""
        result = cli(list(args), self.env, self.cwd)
        assert result.returncode == 0, result.stderr
        return result.stdout if out else result.stderr

    def succeeded(self, batch: str) -> int:
        """How many of the batch's jobs have succeeded so far (as `status --json` says)."""
        counts: dict[str, int] = json.loads(self.command("status", batch, "--json", out=True))[
            "counts"
        ]
        return counts["succeeded"]

    def settle(self, batch: str, timeout: float = 240) -> dict[str, Any]:
        try:
            return wait_for_final(batch, self.env, self.cwd, timeout)
        except TimeoutError:
            raise TimeoutError(f"{batch} never settled; worker logs in {self.logs}") from None

    def _worker(self) -> Service:
        self.started += 1
        log = self.logs / f"chaos-worker-{self.started}.log"
        return Service([CLI, "worker", "--loglevel", "INFO"], log, env=self.env)


@dataclass
class Outcome:
    """How a batch ended, from the outside."""

    scenario: str
    jobs: int
    states: Counter[str]
    failed_classes: Counter[str]
    attempt_classes: Counter[str]
    #: object keys in the bucket, relative to the batch's prefix, without the extension
    object_keys: list[str]
    succeeded_keys: set[str]
    billed: int
    #: images the table records as paid (every attempt's call), which the bill must match but
    #: for calls a kill cut off
    recorded_paid: int
    #: attempts whose worker was killed (each may have been billed without a result)
    lost: int
    seconds: float

    def line(self) -> str:
        failed = ", ".join(f"{c} {n}" for c, n in sorted(self.failed_classes.items())) or "none"
        retried = ", ".join(
            f"{c} {n}" for c, n in sorted(self.attempt_classes.items()) if c != "ok"
        )
        return (
            f"{self.scenario}: {self.jobs} jobs, {self.states['succeeded']} succeeded, "
            f"{self.states['failed']} failed ({failed}); {len(self.object_keys)} objects; "
            f"billed {self.billed} (recorded {self.recorded_paid}, <= {self.jobs} + {self.lost} "
            "lost calls); "
            f"attempt errors: {retried or 'none'}; {self.seconds:.0f} s"
        )


def check_batch(result: Outcome, manifest: TestManifest) -> None:
    """What must hold for each batch whatever happened: every job final and none lost; exactly
    one object per succeeded job and none for any other (the bill is `check_bill`'s)."""
    assert result.jobs == len(manifest.expected_sizes), "a job of the manifest is missing"
    assert result.states["queued"] + result.states["running"] + result.states["generated"] == 0
    assert sorted(result.object_keys) == sorted(result.succeeded_keys)


def check_bill(results: Sequence[Outcome]) -> None:
    """No image paid for twice, bar calls a kill cut off, over all the batches the emulator
    billed (its bill is one for the whole run, however many batches shared it)."""
    billed = max(result.billed for result in results)
    jobs = sum(result.jobs for result in results)
    lost = sum(result.lost for result in results)
    recorded_paid = sum(result.recorded_paid for result in results)
    assert billed <= jobs + lost
    assert recorded_paid <= billed <= recorded_paid + lost


@dataclass
class ChaosRun:
    """One scenario: its fleet, its bucket, the emulator, and where its counts are kept."""

    fleet: ChaosFleet
    s3: Any
    bucket: str
    emulator: Emulator
    database_url: str
    results_file: Path
    started: float = field(default_factory=time.monotonic)
    manifest: TestManifest | None = None

    def start(self, jobs: int, workers: int, **emulator_config: Any) -> str:
        """Configure the emulator, start `workers`, submit `jobs` jobs; returns the batch."""
        self.manifest = write_manifest(self.fleet.cwd / "jobs.jsonl", good=jobs)
        self.emulator.configure(**emulator_config)
        self.fleet.start(workers)
        return self.fleet.submit(self.manifest, self.bucket)

    def table_counts(self, batch: str) -> Counter[str]:
        """The batch's jobs per state, and under `due` those waiting in the table for the
        dispatcher (a due time, no message sent): read from the table, as it is now."""
        with connected(self.database_url) as conn:
            rows = conn.execute(
                sqlalchemy.text(
                    "SELECT state, count(*), count(due_at) FROM jobs WHERE batch_id = :b "
                    "GROUP BY state"
                ),
                {"b": batch},
            ).all()
        counts = Counter({row[0]: int(row[1]) for row in rows})
        counts["due"] = sum(int(row[2]) for row in rows)
        return counts

    def outcome(self, scenario: str, batch: str) -> Outcome:
        """How the batch ended, from the table, the bucket and the emulator's bill."""
        with connected(self.database_url) as conn:
            rows = conn.execute(
                sqlalchemy.text("SELECT key, state, error_class FROM jobs WHERE batch_id = :b"),
                {"b": batch},
            ).all()
            attempts = Counter(
                conn.execute(
                    sqlalchemy.text(
                        "SELECT coalesce(a.error_class, 'ok') FROM attempts a JOIN jobs j "
                        "ON j.id = a.job_id WHERE j.batch_id = :b"
                    ),
                    {"b": batch},
                ).scalars()
            )
            recorded_paid = conn.execute(
                sqlalchemy.text(
                    "SELECT coalesce(sum(a.images), 0) FROM attempts a JOIN jobs j "
                    "ON j.id = a.job_id WHERE j.batch_id = :b"
                ),
                {"b": batch},
            ).scalar_one()
        prefix = f"runs/{batch}/"
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        keys = [
            obj["Key"].removeprefix(prefix).rsplit(".", 1)[0]
            for page in pages
            for obj in page.get("Contents", [])
        ]
        return Outcome(
            scenario=scenario,
            jobs=len(rows),
            states=Counter(row.state for row in rows),
            failed_classes=Counter(row.error_class for row in rows if row.state == "failed"),
            attempt_classes=attempts,
            object_keys=keys,
            succeeded_keys={row.key for row in rows if row.state == "succeeded"},
            billed=self.emulator.stats()["billed"],
            recorded_paid=int(recorded_paid),
            lost=attempts["worker_lost"],
            seconds=time.monotonic() - self.started,
        )

    def checked(self, scenario: str, batch: str) -> Outcome:
        """The outcome of the batch `start` submitted, printed (pytest -s shows it), kept for
        the README, and checked."""
        assert self.manifest is not None
        return self.checked_batches(scenario, {batch: self.manifest})[0]

    def checked_batches(
        self, scenario: str, manifests: Mapping[str, TestManifest]
    ) -> list[Outcome]:
        """The outcomes of batches that ran together (batch -> its manifest), printed, kept, and
        checked: each batch on its own, and the emulator's bill against all of them."""
        results = [self.outcome(scenario, batch) for batch in manifests]
        with self.results_file.open("a") as out:
            for result in results:
                print(result.line())
                out.write(result.line() + "\n")
        for result, manifest in zip(results, manifests.values(), strict=True):
            check_batch(result, manifest)
        check_bill(results)
        return results
