"""`python -m emulator`: options and the product's environment variables configure it."""

import subprocess
import sys

import httpx

from jobs.models import DEFAULT_MODEL
from tests.emulator.conftest import StartEmulator


def test_the_command_takes_credentials_from_the_environment_and_options_from_the_line(
    start_emulator: StartEmulator,
) -> None:
    env = {"CLOUDFLARE_API_TOKEN": "sekret", "CLOUDFLARE_ACCOUNT_ID": "acct-42"}
    args = (
        "--rate-limit",
        "2/60s",
        "--fault",
        "timeout=0.25",
        "--response-form",
        "images_list",
        "--seed",
        "3",
    )
    with (
        start_emulator(*args, env=env) as base_url,
        httpx.Client(base_url=base_url, timeout=10.0) as client,
    ):
        shown = client.get("/__emulator/config").json()
        assert shown["account_id"] == "acct-42"
        assert shown["rate_limit"] == "2/60s"
        assert shown["faults"] == {"timeout": 0.25}
        assert (shown["response_form"], shown["seed"]) == ("images_list", 3)
        call = {"model": DEFAULT_MODEL, "input": {"prompt": "a cat", "size": "1K"}}
        run = "/client/v4/accounts/acct-42/ai/run"
        assert (
            client.post(run, json=call, headers={"Authorization": "Bearer tok"}).status_code == 401
        )
        assert client.post(
            run, json=call, headers={"Authorization": "Bearer sekret"}
        ).status_code in (200, 408)


def test_the_start_line_says_where_it_listens_and_hides_the_token() -> None:
    # `with` closes the stdout pipe once the process is gone
    with subprocess.Popen(
        [
            sys.executable,
            "-m",
            "emulator",
            "--port",
            "0",
            "--api-token",
            "sekret",
            "--rate-limit",
            "200/60s",
        ],
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
        finally:
            process.terminate()
            process.wait(timeout=5)
    assert line.startswith("Cloudflare API emulator listening on http://127.0.0.1:")
    assert "rate limit 200/60s per gateway" in line
    assert "sekret" not in line


def test_a_bad_fault_option_is_refused_naming_it() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "emulator",
            "--port",
            "0",
            "--fault",
            "gremlins=0.1",
            "--api-token",
            "sekret",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    # in the CLI's words, with what is allowed; not pydantic's "Input should be"
    assert "--fault: 'gremlins' is not one of server_error, capacity" in result.stderr
    assert "Input should be" not in result.stderr
    assert "sekret" not in result.stderr + result.stdout
