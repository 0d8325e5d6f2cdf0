"""Secrets never leave the process that holds them: after a distributed run full of failures, the
Cloudflare API token, the S3 secret key and the Redis and database passwords (and their base64
forms) appear in no worker or CLI
output (DEBUG and INFO logging), no column of any row of the results table, no `status` output,
no export and no rejects file.

Four runs, each failing a different way: the emulator answering with faults of every kind, S3
refusing the workers' credentials, Cloudflare refusing the workers' token, and a provider whose
error messages quote every secret. Each secret is a long random string, so finding none of it
means something. A provider's signed image URLs stay out of the workers' logs too.

And the settings: a secret with whitespace around it is stripped and works; one with a control or
non-ASCII character in it, or any invalid setting, stops a command at once with exit 2 and one
line naming the variable, never a value.
"""

import base64
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
import redis
import sqlalchemy

from config.settings import Settings
from emulator.images import ImageRef
from jobs.models.seedream_4_0 import Seedream40Input
from jobs.schema import metadata as results_schema
from tests.support.databases import connected
from tests.support.generations import SEEDREAM_40
from tests.support.manifests import write_manifest
from tests.support.processes import CLI, Service, clean_env
from tests.support.services import Emulator, RedisServer, running_s3
from tests.support.stub_provider import StubProvider
from tests.support.tables import emptied_table
from worker.cloudflare import CloudflareClient

pytestmark = pytest.mark.integration

GOOD_ROWS, BAD_ROWS = 12, 2
#: every fault a provider answer can carry, bar the ones that pause or hang (quota, hang)
FAULTS = {
    "server_error": 0.15,
    "timeout": 0.1,
    "gateway_error": 0.1,
    "failed_200": 0.1,
    "content_policy": 0.15,
    "malformed": 0.1,
    "non_image": 0.1,
    "errors_object": 0.1,
}


def secret_forms(secret: str) -> set[str]:
    """The secret as it could leak: itself, and base64 of it or of its Authorization header."""
    forms = {secret}
    for text in (secret, f"Bearer {secret}", f"Authorization: Bearer {secret}"):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            forms.add(encode(text.encode()).decode().rstrip("="))
    return forms


@dataclass
class Fleet:
    """A distributed run's environment and where everything it says is kept."""

    env: dict[str, str]
    cwd: Path
    logs: list[Path]

    def cli(self, *args: str) -> str:
        """Run a command; return what it printed on stdout and stderr together."""
        done = subprocess.run(
            [CLI, *args], env=self.env, cwd=self.cwd, capture_output=True, text=True, timeout=120
        )
        return f"{done.stdout}\n{done.stderr}"


def everything_said(fleet: Fleet, batch: str, database_url: str) -> dict[str, str]:
    """Every place a secret could have leaked to, by name: statuses, rejects file, every column
    of every row of every table of the results table, the workers' and CLI's output."""
    export = fleet.cwd / "export.jsonl"
    said = {
        "status": fleet.cli("status"),
        "status --json": fleet.cli("status", "--json"),
        "status BATCH": fleet.cli("status", batch),
        "status BATCH --json": fleet.cli("status", batch, "--json"),
        "export": fleet.cli("export", batch, "--format", "jsonl", "--to", str(export)),
        "rejects file": (fleet.cwd / "rejects.jsonl").read_text(errors="replace"),
    }
    said["export file"] = export.read_text(errors="replace")
    with connected(database_url) as conn:
        for table in results_schema.sorted_tables:
            rows = conn.execute(table.select()).mappings().all()
            said[f"table {table.name}"] = "\n".join(repr(dict(row)) for row in rows)
    for log in fleet.logs:
        said[log.name] = log.read_text(errors="replace")
    return said


def run_failing_batch(
    fleet: Fleet, logs: Path, database_url: str, *, preflight: bool = True
) -> tuple[str, dict[str, str]]:
    """Submit a manifest with bad rows to two workers (one logging at DEBUG, one at INFO), wait
    until it settles, and gather everything the run said. Without `preflight`, submit records
    the batch whatever the token and the output: the workers are the ones meant to fail."""
    write_manifest(fleet.cwd / "jobs.jsonl", good=GOOD_ROWS, bad=BAD_ROWS)
    batch = f"secrets-{secrets.token_hex(3)}"
    workers = [
        Service([CLI, "worker", "--loglevel", level], logs / f"worker-{level}.log", fleet.env)
        for level in ("DEBUG", "INFO")
    ]
    fleet.logs.extend(worker.log for worker in workers)
    try:
        submitted = fleet.cli(
            "submit", "jobs.jsonl", "--batch", batch, "--rejects", "rejects.jsonl",
            *([] if preflight else ["--no-preflight"]),
        )  # fmt: skip
        (logs / "submit.log").write_text(submitted)
        fleet.logs.append(logs / "submit.log")
        _wait_until_settled(database_url, batch)
    finally:
        for worker in workers:
            worker.stop()
    # the search means something only if the chattiest logging really was on
    assert "DEBUG/" in workers[0].output()
    return batch, everything_said(fleet, batch, database_url)


def _wait_until_settled(database_url: str, batch: str, timeout: float = 240) -> None:
    """Until every job is final, or the batch is paused (a refused token pauses it) with none
    of its jobs under way."""
    engine = sqlalchemy.create_engine(database_url)
    unsettled = sqlalchemy.text(
        "SELECT count(*) FROM jobs JOIN batches ON batches.id = jobs.batch_id "
        "WHERE jobs.batch_id = :b AND ("
        " (batches.state = 'paused' AND jobs.state IN ('running', 'generated'))"
        " OR (batches.state <> 'paused' AND jobs.state NOT IN ('succeeded', 'failed')))"
    )
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                if conn.execute(unsettled, {"b": batch}).scalar_one() == 0:
                    return
            time.sleep(0.5)
    finally:
        engine.dispose()
    raise TimeoutError(f"batch {batch} still has jobs under way after {timeout} s")


def assert_nowhere(said: dict[str, str], named: dict[str, str]) -> None:
    for secret_name, secret in named.items():
        assert len(secret) >= 32, f"{secret_name} is not distinctive enough to search for"
        for form in secret_forms(secret):
            leaks = [where for where, text in said.items() if form in text]
            assert not leaks, f"{secret_name} ({form[:6]}…) leaked into {leaks}"


def recorded_classes(database_url: str, batch: str) -> set[str]:
    """The error classes the run's attempts recorded (so each case is known to have failed the
    way it meant to)."""
    with connected(database_url) as conn:
        found = conn.execute(
            sqlalchemy.text(
                "SELECT DISTINCT attempts.error_class FROM attempts JOIN jobs "
                "ON jobs.id = attempts.job_id WHERE jobs.batch_id = :b"
            ),
            {"b": batch},
        ).scalars()
        return {kind for kind in found if kind}


def with_password(database_url: str) -> str:
    """The URL with a long random password, unless it has a real one (on a trust-auth server,
    as the tests' is, the server never asks for it, but every client holds it)."""
    url = sqlalchemy.make_url(database_url)
    if url.password is None:
        url = url.set(password="db-secret-" + secrets.token_urlsafe(32))
    return url.render_as_string(hide_password=False)


@pytest.fixture
def fleet(
    tmp_path: Path,
    postgres_url: str,
    s3_env: dict[str, str],
    s3_bucket: tuple[str, Any],
    emulator: Emulator,
    child_env: dict[str, str],
) -> Iterator[Fleet]:
    """A fleet on Redis, PostgreSQL and moto S3 whose API token, S3 secret key, Redis password
    and database password are long random strings (the emulator is given the token for the test,
    and its own back afterwards)."""
    token = "cf-token-" + secrets.token_urlsafe(32)
    redis_server = RedisServer(tmp_path, password="redis-secret-" + secrets.token_hex(24))
    bucket, _ = s3_bucket
    env = {
        **child_env,
        **s3_env,
        **emulator.env(),
        # moto checks no signature by default: any secret key reaches the session's bucket
        "AWS_SECRET_ACCESS_KEY": "s3-secret-" + secrets.token_urlsafe(32),
        "CLOUDFLARE_API_TOKEN": token,
        "SEEDREAM_BROKER_URL": redis_server.url,
        "SEEDREAM_DATABASE_URL": with_password(postgres_url),
        "SEEDREAM_OUTPUT": f"s3://{bucket}/runs",
        "SEEDREAM_CONCURRENCY": "4",
        "SEEDREAM_MAX_ATTEMPTS": "2",
        "SEEDREAM_RETRY_BASE_SECONDS": "0.2",
    }
    emulator.configure(api_token=token)
    # made anew: another test's jobs would be copied (reuse) or hold their images' addresses
    emptied_table(postgres_url).engine.dispose()
    try:
        yield Fleet(env, tmp_path, [])
    finally:
        emulator.configure(api_token=emulator.api_token)
        redis_server.stop()


def secrets_of(fleet: Fleet) -> dict[str, str]:
    return {
        "the API token": fleet.env["CLOUDFLARE_API_TOKEN"],
        "the S3 secret key": fleet.env["AWS_SECRET_ACCESS_KEY"],
        "the Redis password": redis.Redis.from_url(
            fleet.env["SEEDREAM_BROKER_URL"]
        ).connection_pool.connection_kwargs["password"],
        "the database password": str(
            sqlalchemy.make_url(fleet.env["SEEDREAM_DATABASE_URL"]).password
        ),
    }


def test_no_secret_leaks_when_the_provider_answers_with_every_kind_of_fault(
    fleet: Fleet, emulator: Emulator, postgres_url: str, tmp_path: Path
) -> None:
    emulator.configure(faults=FAULTS, seed=7)

    batch, said = run_failing_batch(fleet, tmp_path, postgres_url)

    assert len(recorded_classes(postgres_url, batch)) >= 3
    assert_nowhere(said, secrets_of(fleet))


def test_no_secret_leaks_when_s3_refuses_the_credentials(
    fleet: Fleet, postgres_url: str, tmp_path: Path
) -> None:
    with running_s3(tmp_path) as endpoint:
        boto3.client(
            "s3", endpoint_url=endpoint, region_name="us-east-1",
            aws_access_key_id="setup", aws_secret_access_key="setup",
        ).create_bucket(Bucket="locked")  # fmt: skip
        # from here on moto checks every request against its (empty) IAM: no key is valid
        httpx.post(f"{endpoint}/moto-api/reset-auth", content=b"0").raise_for_status()
        fleet.env.update(
            AWS_ENDPOINT_URL=endpoint,
            AWS_ACCESS_KEY_ID="AKIA" + secrets.token_hex(8).upper(),
            SEEDREAM_OUTPUT="s3://locked/runs",
        )
        batch, said = run_failing_batch(fleet, tmp_path, postgres_url, preflight=False)

    assert recorded_classes(postgres_url, batch) == {"storage"}
    assert_nowhere(said, secrets_of(fleet))


def test_no_secret_leaks_when_cloudflare_refuses_the_token(
    fleet: Fleet, emulator: Emulator, postgres_url: str, tmp_path: Path
) -> None:
    right = fleet.env["CLOUDFLARE_API_TOKEN"]
    fleet.env["CLOUDFLARE_API_TOKEN"] = "wrong-token-" + secrets.token_urlsafe(32)

    batch, said = run_failing_batch(fleet, tmp_path, postgres_url, preflight=False)

    assert recorded_classes(postgres_url, batch) == {"auth"}
    assert emulator.stats()["billed"] == 0
    assert_nowhere(said, {**secrets_of(fleet), "the right token": right})


def test_no_secret_leaks_when_the_provider_quotes_every_secret_in_its_errors(
    fleet: Fleet, postgres_url: str, tmp_path: Path
) -> None:
    quoted = " ".join(secrets_of(fleet).values())
    refusal = {"success": False, "errors": [{"code": 5006, "message": f"bad input: {quoted}"}]}
    with StubProvider(lambda: (400, refusal)) as provider:
        fleet.env["CLOUDFLARE_API_BASE"] = provider.base_url
        batch, said = run_failing_batch(fleet, tmp_path, postgres_url)

    assert recorded_classes(postgres_url, batch) == {"invalid_input"}
    assert "[redacted] [redacted] [redacted]" in said["table jobs"]  # the token is the client's
    assert_nowhere(said, secrets_of(fleet))


def test_a_signed_image_url_stays_out_of_the_workers_logs(
    fleet: Fleet, emulator: Emulator, postgres_url: str, tmp_path: Path
) -> None:
    signature = "sig-" + secrets.token_hex(24)
    image = ImageRef(width=64, height=64, seed=7).path()
    signed = f"{emulator.base_url}{image}?X-Amz-Signature={signature}&X-Amz-Expires=86400"
    answer = {"state": "Completed", "result": {"image": signed}}
    with StubProvider(lambda: (200, answer)) as provider:
        fleet.env["CLOUDFLARE_API_BASE"] = provider.base_url
        batch, said = run_failing_batch(fleet, tmp_path, postgres_url)

    succeeded = sqlalchemy.text(
        "SELECT count(*) FROM jobs WHERE batch_id = :b AND state = 'succeeded'"
    )
    with connected(postgres_url) as conn:
        stored = conn.execute(succeeded, {"b": batch}).scalar_one()
    assert stored == GOOD_ROWS  # each image was downloaded from its signed URL
    logs = {name: text for name, text in said.items() if name.startswith("worker-")}
    assert len(logs) == 2
    assert not [name for name, text in logs.items() if "X-Amz-Signature" in text]
    assert not [where for where, text in said.items() if signature in text]


@pytest.mark.parametrize("around", ["\n", " ", "\t", "\r"])
def test_a_token_with_whitespace_around_it_is_stripped_and_works(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch, around: str
) -> None:
    for name, value in emulator.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", f"{emulator.api_token}{around}")

    with CloudflareClient(Settings(_env_file=None)) as client:
        generation = client.generate(SEEDREAM_40, Seedream40Input(prompt="a lighthouse"))

    assert generation.images[0].url is not None
    assert emulator.stats()["billed"] == 1


def _command(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args], env=clean_env(**env), cwd=cwd, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("bad", ["\x00", "\u00e9", "\x1b[2J"])
@pytest.mark.parametrize("command", [["status"], ["worker"], ["beat"]])
def test_a_token_with_a_control_or_non_ascii_character_stops_a_command_naming_the_variable(
    tmp_path: Path, bad: str, command: list[str]
) -> None:
    token = f"tok-{secrets.token_hex(8)}{bad}rest"
    # the environment cannot hold a NUL; `.env` can, as a Kubernetes secret's file can
    (tmp_path / ".env").write_text(f"CLOUDFLARE_API_TOKEN='{token}'\n")

    done = _command(tmp_path, *command, SEEDREAM_BROKER_URL="redis://127.0.0.1:9/0")

    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert line.startswith("error: invalid settings: CLOUDFLARE_API_TOKEN: holds a ")
    assert token.split(bad)[0] not in done.stdout + done.stderr


@pytest.mark.parametrize("command", [["status"], ["worker"], ["beat"]])
def test_an_invalid_setting_is_told_in_one_line_without_any_secret(
    tmp_path: Path, command: list[str]
) -> None:
    secret = "whsec-" + secrets.token_hex(16)

    done = _command(
        tmp_path,
        *command,
        SEEDREAM_RATE_BURST="1000",
        SEEDREAM_WEBHOOK_SECRET=secret,
        SEEDREAM_BROKER_URL=f"redis://:{secret}@127.0.0.1:9/0",
    )

    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert line.startswith("error: invalid settings: SEEDREAM_RATE_BURST=1000 is more than")
    assert secret not in done.stdout + done.stderr
