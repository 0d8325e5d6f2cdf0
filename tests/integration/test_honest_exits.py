"""Honest exits, on real parts (`seedream-batch` processes, the emulator, a real Redis): a
command that starts nothing says why in one line and exits 2 leaving nothing recorded; a batch's
outcome is its exit code; a `run` waiting on a fleet says so, and warns when no worker answers."""

import json
import queue
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import Celery

from tests.integration.test_embedded_run import run_cli
from tests.support.images import image_bytes
from tests.support.manifests import write_manifest
from tests.support.processes import CLI, Service, free_port, wait_until
from tests.support.services import Emulator, RedisServer
from worker.broker import BrokerUnreachable
from worker.publish import job_enqueuer

pytestmark = pytest.mark.integration

#: the bound the warning must come within, once `run` said it waits for workers
NO_WORKER_WARNING_BOUND_S = 10


def recorded_batches(cwd: Path) -> list[str]:
    """The batches in the working folder's table (embedded settings: no broker)."""
    listing = run_cli(["status", "--json"], cwd, {})
    assert listing.returncode == 0, listing.stderr
    return [entry["batch"] for entry in json.loads(listing.stdout)]


@pytest.mark.parametrize("command", ["submit", "run"])
def test_an_unreachable_broker_is_one_line_exit_2_and_nothing_recorded(
    tmp_path: Path, emulator: Emulator, command: str
) -> None:
    write_manifest(tmp_path / "jobs.jsonl", good=5)
    port = free_port()  # nothing listens there
    env = {**emulator.env(), "SEEDREAM_BROKER_URL": f"redis://:hunter2@127.0.0.1:{port}/0"}
    started = time.monotonic()

    result = run_cli([command, "jobs.jsonl", "--batch", "b"], tmp_path, env)

    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"error: cannot reach the broker at redis://127.0.0.1:{port}: connection refused"
    )
    assert "hunter2" not in result.stdout + result.stderr
    assert time.monotonic() - started < 8  # the process's own start-up is most of it
    assert recorded_batches(tmp_path) == []


def test_resume_and_retry_with_an_unreachable_broker_are_one_line_and_exit_2(
    tmp_path: Path, emulator: Emulator
) -> None:
    write_manifest(tmp_path / "jobs.jsonl", good=2)
    done = run_cli(["run", "jobs.jsonl", "--out", "out", "--batch", "b"], tmp_path, emulator.env())
    assert done.returncode == 0, done.stderr
    port = free_port()
    env = {"SEEDREAM_BROKER_URL": f"redis://:hunter2@127.0.0.1:{port}/0"}

    for command in ("resume", "retry"):
        result = run_cli([command, "b"], tmp_path, env)

        assert result.returncode == 2, command
        assert result.stderr.strip() == (
            f"error: cannot reach the broker at redis://127.0.0.1:{port}: connection refused"
        )


def test_a_broker_lost_between_chunks_is_reported_at_once_without_its_password(
    logs: Path,
) -> None:
    server = RedisServer(logs, password="hunter2")
    try:
        with Celery(broker=server.url) as app, job_enqueuer(app) as enqueue:
            enqueue([1, 2])
            server.stop()
            lost_at = time.monotonic()
            with pytest.raises(BrokerUnreachable) as caught:
                enqueue([3, 4])
    finally:
        server.stop()

    assert str(caught.value) == (
        f"cannot reach the broker at redis://127.0.0.1:{server.port}: connection refused"
    )
    assert time.monotonic() - lost_at < 5


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("empty.jsonl", b"", "empty.jsonl: has no rows: nothing was recorded"),
        ("photo.jsonl", image_bytes("PNG", (300, 200)), "photo.jsonl: is not a UTF-8 text"),
        ("bad.jsonl", b'{"prompt": ""}\n{"size": "1K"}\n', "bad.jsonl: has no valid row (2 "),
    ],
)
def test_a_manifest_with_no_valid_row_exits_2_and_records_nothing(
    tmp_path: Path, emulator: Emulator, name: str, content: bytes, says: str
) -> None:
    (tmp_path / name).write_bytes(content)

    result = run_cli(["run", name, "--out", "out"], tmp_path, emulator.env())

    assert result.returncode == 2
    assert says in result.stderr
    assert len(result.stderr.splitlines()) <= 3  # the error, and each bad row: never 129
    assert recorded_batches(tmp_path) == []
    assert emulator.stats()["billed"] == 0


def test_another_manifest_under_a_used_batch_name_is_refused(
    tmp_path: Path, emulator: Emulator
) -> None:
    write_manifest(tmp_path / "first.jsonl", good=4)
    write_manifest(tmp_path / "other.jsonl", good=6)
    as_b = ["--out", "out", "--batch", "b"]
    first = run_cli(["run", "first.jsonl", *as_b], tmp_path, emulator.env())
    assert first.returncode == 0, first.stderr

    other = run_cli(["run", "other.jsonl", *as_b], tmp_path, emulator.env())

    assert other.returncode == 2
    assert "batch 'b' was made from another manifest (first.jsonl), not from other.jsonl" in (
        other.stderr
    )
    assert emulator.stats()["billed"] == 4


def test_a_run_whose_batch_is_cancelled_exits_4(tmp_path: Path, emulator: Emulator) -> None:
    write_manifest(tmp_path / "jobs.jsonl", good=30)
    emulator.configure(latency_s=1.0)
    env = {**emulator.env(), "SEEDREAM_CONCURRENCY": "2"}
    running = Service(
        [CLI, "run", "jobs.jsonl", "--out", "out", "--batch", "stopped"],
        tmp_path / "run.log",
        env=env,
        cwd=tmp_path,
    )
    try:
        wait_until(lambda: any(tmp_path.glob("out/stopped/*.jpg")), 60, "a first image stored")
        cancelled = run_cli(["cancel", "stopped"], tmp_path, {})
        assert cancelled.returncode == 0, cancelled.stderr
        assert running.process.wait(60) == 4, running.output()
    finally:
        running.stop()
    assert "cancelled" in running.output()


def test_strict_refusal_records_nothing_and_the_fixed_manifest_runs_under_that_name(
    tmp_path: Path, emulator: Emulator
) -> None:
    manifest = write_manifest(tmp_path / "jobs.jsonl", good=8, bad=1)
    args = ["run", "jobs.jsonl", "--out", "out", "--batch", "b", "--strict"]

    refused = run_cli([*args, "--rejects", "bad.jsonl"], tmp_path, emulator.env())

    assert refused.returncode == 2
    assert "1 bad row; --strict refused the whole manifest: nothing was recorded" in refused.stderr
    assert len((tmp_path / "bad.jsonl").read_text().splitlines()) == 1
    assert recorded_batches(tmp_path) == []

    write_manifest(manifest.path, good=9)
    fixed = run_cli(args, tmp_path, emulator.env())

    assert fixed.returncode == 0, fixed.stderr
    assert len(list((tmp_path / "out" / "b").glob("*.jpg"))) == 9
    assert emulator.stats()["billed"] == 9


class Lines:
    """A process's stderr, line by line, each with the time it arrived."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self._lines: queue.Queue[tuple[float, str]] = queue.Queue()
        assert process.stderr is not None
        self._reader = threading.Thread(target=self._read, args=(process.stderr,), daemon=True)
        self._reader.start()

    def join(self, timeout: float = 10) -> None:
        """Wait for the reader to see the end of the stream (the process is gone), so the stream
        can be closed under no thread reading it."""
        self._reader.join(timeout)

    def _read(self, stream: Iterator[str]) -> None:
        for line in stream:
            self._lines.put((time.monotonic(), line))

    def wait_for(self, text: str, timeout: float) -> float:
        """When the first line holding `text` arrived."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                arrived, line = self._lines.get(timeout=left)
            except queue.Empty:
                break
            if text in line:
                return arrived
        raise TimeoutError(f"no line with {text!r} within {timeout} s")


@pytest.fixture
def fleet_run_env(fresh_redis: str, tmp_path: Path, emulator: Emulator) -> dict[str, str]:
    return {
        **emulator.env(),
        "SEEDREAM_BROKER_URL": fresh_redis,
        "SEEDREAM_DATABASE_URL": f"sqlite:///{tmp_path / 'fleet.db'}",
    }


def test_run_on_a_fleet_with_no_worker_says_it_waits_and_warns_within_seconds(
    tmp_path: Path, fleet_run_env: dict[str, str], child_env: dict[str, str]
) -> None:
    write_manifest(tmp_path / "jobs.jsonl", good=3)
    port = fleet_run_env["SEEDREAM_BROKER_URL"].rsplit(":", 1)[1].split("/")[0]
    # leaving the `with` closes the stderr pipe and reaps the process
    with subprocess.Popen(
        [CLI, "run", "jobs.jsonl", "--out", "out", "--batch", "waits"],
        cwd=tmp_path,
        env={**child_env, **fleet_run_env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        lines = Lines(process)
        try:
            waiting = lines.wait_for(
                f"jobs queued for the fleet on redis://127.0.0.1:{port}, waiting for workers", 60
            )
            warned = lines.wait_for("warning: no worker has answered", 30)
            assert warned - waiting <= NO_WORKER_WARNING_BOUND_S
            assert process.poll() is None  # it warns, and waits on
        finally:
            process.kill()
            lines.join()


def test_run_on_a_fleet_with_a_worker_finishes_without_a_warning(
    tmp_path: Path, fleet_run_env: dict[str, str], logs: Path
) -> None:
    write_manifest(tmp_path / "jobs.jsonl", good=6)
    worker = Service(
        [CLI, "worker", "--loglevel", "WARNING"], logs / "worker-answers.log", fleet_run_env
    )
    try:
        result = run_cli(
            ["run", "jobs.jsonl", "--out", str(tmp_path / "out"), "--batch", "served"],
            tmp_path,
            fleet_run_env,
        )
    finally:
        worker.stop()

    assert result.returncode == 0, result.stderr
    assert "waiting for workers" in result.stderr
    assert "no worker has answered" not in result.stderr
    assert len(list((tmp_path / "out" / "served").glob("*.jpg"))) == 6
