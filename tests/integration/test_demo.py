"""`scripts/demo.sh` runs against its own emulator, whatever else holds the default port, and
exits 0 when the run succeeded."""

import json
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from jobs.batch_summary import PACE_LABEL
from tests.support.processes import clean_env

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "scripts" / "demo.sh"
#: the port the emulator listens on by default, and the one the demo used to assume was its own
DEFAULT_PORT = 8787


class _Squatter(BaseHTTPRequestHandler):
    """Answers everything 200 with an empty JSON object, and counts what it was asked."""

    asked: ClassVar[list[str]] = []

    def _answer(self) -> None:
        self.asked.append(f"{self.command} {self.path}")
        body = json.dumps({}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def squatter() -> Iterator[list[str]]:
    """Another HTTP server on the default port; yields the requests it got."""
    try:
        server = ThreadingHTTPServer(("127.0.0.1", DEFAULT_PORT), _Squatter)
    except OSError:
        pytest.skip(f"127.0.0.1:{DEFAULT_PORT} is held by a process this test did not start")
    _Squatter.asked = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield _Squatter.asked
    server.shutdown()
    server.server_close()


def demo(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    manifest = tmp_path / "tiny.jsonl"
    manifest.write_text('{"key": "a", "prompt": "a cat"}\n{"key": "b", "prompt": "a dog"}\n')
    clean = clean_env()
    clean.pop("EMULATOR_PORT", None)
    return subprocess.run(
        [str(DEMO), "--out", str(tmp_path / "out"), "--batch", "demo", *args],
        env={
            **clean,
            "DEMO_MANIFEST": str(manifest),
            "SEEDREAM_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_the_demo_runs_on_a_port_of_its_own_when_the_default_is_taken_and_exits_0(
    tmp_path: Path, squatter: list[str]
) -> None:
    result = demo(tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert len(list((tmp_path / "out" / "demo").glob("*.jpg"))) == 2
    # what `run` prints at the end: its state, and one pace figure, labelled
    assert "state: completed" in result.stdout
    assert "active" not in result.stdout
    assert result.stdout.count("images/s") == 1
    assert PACE_LABEL in result.stdout
    assert squatter == []  # the other server on the default port was never asked anything


def test_a_port_asked_for_and_taken_stops_the_demo_before_it_runs(
    tmp_path: Path, squatter: list[str]
) -> None:
    result = demo(tmp_path, EMULATOR_PORT=str(DEFAULT_PORT))

    assert result.returncode == 2, result.stdout + result.stderr
    assert f"127.0.0.1:{DEFAULT_PORT}" in result.stderr
    assert "EMULATOR_PORT" in result.stderr
    assert squatter == []
    assert not (tmp_path / "out").exists()
