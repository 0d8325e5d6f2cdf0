"""The emulator is an optional extra: the CLI, the workers and beat load without its web server,
and without the extra its command says in one line what to install."""

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from producer.cli import app
from producer.emulator_command import INSTALL_HINT

runner = CliRunner()

#: the extra's packages, and the package that needs them
EMULATOR_MODULES = ("starlette", "uvicorn", "emulator")


def python(code: str) -> subprocess.CompletedProcess[str]:
    """`code` run by a fresh interpreter, so nothing this test process imported counts."""
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )


def test_loading_the_cli_and_the_worker_imports_no_emulator_module() -> None:
    done = python(
        "import sys, producer.cli, worker.app, worker.tasks\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {EMULATOR_MODULES!r}))"
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("missing", ["starlette", "uvicorn"])
def test_without_the_extra_the_command_says_what_to_install_and_exits_2(missing: str) -> None:
    # a None in sys.modules makes `import <missing>` fail as an absent package does
    done = python(
        f"import sys; sys.modules[{missing!r}] = None\n"
        "from producer.cli import app; app(['emulator', '--port', '0'])"
    )

    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: the emulator is an optional extra ({missing} is missing): {INSTALL_HINT}"
    ]
    assert INSTALL_HINT == "pip install 'seedream-batch[emulator]'"


def test_the_commands_help_is_the_emulators_own() -> None:
    result = runner.invoke(app, ["emulator", "--help"])

    assert result.exit_code == 0, result.output
    assert "Usage: " in result.output
    assert " emulator [OPTIONS]" in result.output
    assert "--latency" in result.output
    assert "--rate-limit" in result.output


def test_a_bad_emulator_option_is_said_in_the_clis_words() -> None:
    result = runner.invoke(app, ["emulator", "--response-form", "xml"])

    assert result.exit_code == 2
    assert "--response-form: 'xml' is not one of" in result.stderr
