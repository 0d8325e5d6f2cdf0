"""`seedream-batch doctor` on real parts (the emulator, a folder, SQLite; Redis, PostgreSQL and an
S3 server): green when all is right, one red line per problem otherwise; and `run` and `submit`
refusing a bad token or a missing bucket before they record a batch."""

import secrets
from pathlib import Path

import pytest

from tests.integration.test_embedded_run import run_cli
from tests.integration.test_honest_exits import recorded_batches
from tests.support.manifests import write_manifest
from tests.support.processes import free_port
from tests.support.services import Emulator, S3Bucket

pytestmark = pytest.mark.integration

READY = "ready: nothing to fix"
ONE_PROBLEM = "1 problem to fix before a batch (the ✗ lines)"


def doctor(tmp_path: Path, env: dict[str, str], *args: str) -> tuple[int, list[str]]:
    """Run doctor on a 5-row manifest; its exit code and the lines it printed."""
    write_manifest(tmp_path / "jobs.jsonl", good=5)
    done = run_cli(["doctor", "jobs.jsonl", *args], tmp_path, env)
    assert done.stderr == ""
    return done.returncode, done.stdout.splitlines()


def marked(lines: list[str], mark: str) -> list[str]:
    return [line for line in lines if line.startswith(mark)]


def test_doctor_is_green_on_the_emulator_a_folder_and_sqlite_and_leaves_nothing_behind(
    tmp_path: Path, emulator: Emulator
) -> None:
    code, lines = doctor(tmp_path, emulator.env(), "--out", "out")

    assert code == 0, lines
    assert marked(lines, "✗") == []
    assert lines[0] == "✓ token: valid and active (a user token)"
    assert f"✓ account: {emulator.account_id} is reachable" in lines[1]
    assert "✓ output: out: a probe object was written, read back and deleted" in lines
    assert "· estimate: 5 jobs (the valid rows of jobs.jsonl): " in lines[-2]
    assert lines[-1] == READY
    assert list((tmp_path / "out").iterdir()) == []
    assert not (tmp_path / "seedream.db").exists()  # doctor records nothing
    assert emulator.stats()["requests"] == 0  # and generates nothing


def test_doctor_is_green_on_redis_postgresql_and_s3(
    tmp_path: Path,
    emulator: Emulator,
    fresh_redis: str,
    postgres_url: str,
    s3_env: dict[str, str],
    s3_bucket: S3Bucket,
) -> None:
    bucket, client = s3_bucket
    env = {
        **emulator.env(),
        **s3_env,
        "SEEDREAM_BROKER_URL": fresh_redis,
        "SEEDREAM_DATABASE_URL": postgres_url,
        "CLOUDFLARE_GATEWAY_IDS": "g1,g2",
        "SEEDREAM_RATE_LIMIT": "200/60s",
    }

    code, lines = doctor(tmp_path, env, "--out", f"s3://{bucket}/runs")

    assert code == 0, lines
    port = fresh_redis.rsplit(":", 1)[1].split("/")[0]
    assert f"✓ broker: redis://127.0.0.1:{port} answers" in lines
    assert [line for line in lines if line.startswith("✓ gateway ")] == [
        "✓ gateway g1: exists",
        "✓ gateway g2: exists",
    ]
    assert marked(lines, "✓ results table: postgresql")
    probed = f"✓ output: s3://{bucket}/runs: a probe object was written, read back and deleted"
    assert probed in lines
    assert "· rate: 2 gateways × 200/60s = 400 images per minute " in "\n".join(lines)
    assert client.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_a_wrong_token_is_one_red_line_that_never_shows_the_token(
    tmp_path: Path, emulator: Emulator
) -> None:
    wrong = "wrong-token-" + secrets.token_urlsafe(24)

    code, lines = doctor(tmp_path, {**emulator.env(), "CLOUDFLARE_API_TOKEN": wrong})

    assert code == 2
    assert marked(lines, "✗") == [
        "✗ token: Cloudflare refuses CLOUDFLARE_API_TOKEN (HTTP 401, code 1000: Invalid API "
        "Token); create an API token with the Workers AI and AI Gateway permissions (AI Gateway "
        "Read lets doctor check the gateways) and export it as CLOUDFLARE_API_TOKEN"
    ]
    assert lines[-1] == ONE_PROBLEM
    assert wrong not in "\n".join(lines)


def test_a_wrong_account_is_its_own_red_line(tmp_path: Path, emulator: Emulator) -> None:
    code, lines = doctor(tmp_path, {**emulator.env(), "CLOUDFLARE_ACCOUNT_ID": "not-mine"})

    assert code == 2
    [account] = marked(lines, "✗")
    assert account.startswith("✗ account: account not-mine is not reachable with this token ")
    assert account.endswith("check CLOUDFLARE_ACCOUNT_ID (dashboard > Workers AI > account id)")
    assert lines[-1] == ONE_PROBLEM


def test_a_gateway_the_account_lacks_is_its_own_red_line(
    tmp_path: Path, emulator: Emulator
) -> None:
    emulator.configure(gateways=["made"])
    env = {**emulator.env(), "CLOUDFLARE_GATEWAY_IDS": "made,forgotten"}

    code, lines = doctor(tmp_path, env)

    assert code == 2
    assert "✓ gateway made: exists" in lines
    [missing] = marked(lines, "✗")
    assert missing.startswith("✗ gateway forgotten: does not exist in account ")


def test_a_token_without_ai_gateway_read_is_a_warning_not_a_failure(
    tmp_path: Path, emulator: Emulator
) -> None:
    emulator.configure(gateway_read=False)

    code, lines = doctor(tmp_path, emulator.env())

    assert code == 0, lines
    [warning] = marked(lines, "! account")
    assert "the token lacks AI Gateway Read" in warning


def test_a_missing_bucket_is_one_red_line(
    tmp_path: Path, emulator: Emulator, s3_env: dict[str, str]
) -> None:
    env = {**emulator.env(), **s3_env}

    code, lines = doctor(tmp_path, env, "--out", "s3://no-such-bucket-here/runs")

    assert code == 2
    [output] = marked(lines, "✗")
    assert output.startswith("✗ output: s3://no-such-bucket-here/runs: cannot write a probe ")
    assert output.endswith(
        "the bucket does not exist: create it, or name another (--out, SEEDREAM_OUTPUT)"
    )
    assert s3_env["AWS_SECRET_ACCESS_KEY"] not in "\n".join(lines)


def test_a_stopped_redis_is_one_red_line_without_its_password(
    tmp_path: Path, emulator: Emulator
) -> None:
    port = free_port()  # nothing listens there
    env = {**emulator.env(), "SEEDREAM_BROKER_URL": f"redis://:hunter2@127.0.0.1:{port}/0"}

    code, lines = doctor(tmp_path, env)

    assert code == 2
    assert marked(lines, "✗") == [
        f"✗ broker: cannot reach the broker at redis://127.0.0.1:{port}: connection refused: "
        "start it, or correct SEEDREAM_BROKER_URL"
    ]
    assert "hunter2" not in "\n".join(lines)


def test_run_refuses_a_bad_token_before_recording_a_batch(
    tmp_path: Path, emulator: Emulator
) -> None:
    write_manifest(tmp_path / "jobs.jsonl", good=5)
    wrong = {**emulator.env(), "CLOUDFLARE_API_TOKEN": "wrong-token"}

    result = run_cli(["run", "jobs.jsonl", "--out", "out", "--batch", "b"], tmp_path, wrong)

    assert result.returncode == 2
    assert result.stderr.strip().startswith(
        "error: Cloudflare refuses CLOUDFLARE_API_TOKEN (HTTP 401, code 1000: Invalid API Token)"
    )
    assert recorded_batches(tmp_path) == []
    assert emulator.stats()["requests"] == 0


def test_submit_refuses_a_missing_bucket_before_recording_a_batch(
    tmp_path: Path, emulator: Emulator, fresh_redis: str, s3_env: dict[str, str]
) -> None:
    write_manifest(tmp_path / "jobs.jsonl", good=5)
    env = {**emulator.env(), **s3_env, "SEEDREAM_BROKER_URL": fresh_redis}
    args = ["submit", "jobs.jsonl", "--out", "s3://no-such-bucket-here/runs", "--batch", "b"]

    result = run_cli(args, tmp_path, env)

    assert result.returncode == 2
    [said] = result.stderr.strip().splitlines()
    assert said.startswith("error: output s3://no-such-bucket-here/runs: cannot write a probe ")
    assert recorded_batches(tmp_path) == []
