"""Loading memory against what rows hold: `seedream-batch submit` of manifests whose metadata is
built to cost the most memory per byte of file, with no worker running.

    .venv/bin/python -m bench.metadata_load [--rows 6000] [--shape nested --shape wide ...]

Shapes (every row is under the 64 KiB metadata size limit, the only one before the value and
depth limits):

* `nested`: ~49 KB of empty lists per row (`[[], [], ...]`), 16,000 Python lists from 49 KB;
* `deep`: lists nested 500 deep, a short chain per row;
* `wide`: the most values the metadata limits allow, in one list per row (loaded);
* `plain`: a caption and two labels (a usual row), for comparison.

Starts a private Redis and records into a SQLite file, runs `submit` as a user would, and prints
each manifest's size, the exit code, the rows loaded and rejected and the submit process's peak
RSS (read from /proc).
"""

import argparse
import json
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench.process_stats import run_measured
from jobs.spec import MAX_METADATA_VALUES
from tests.support.processes import CLI, clean_env
from tests.support.services import running_redis

#: how many empty lists a `nested` row carries: ~49 KB of JSON, the issue's 294 MB / 6,000 rows
_NESTED_LISTS = 16_000
#: how deep a `deep` row nests: far past any metadata limit, well inside Python's recursion limit
_DEEP_LEVELS = 500

_SHAPES: dict[str, Callable[[int], object]] = {
    "nested": lambda n: [[] for _ in range(_NESTED_LISTS)],
    "deep": lambda n: json.loads("[" * _DEEP_LEVELS + "]" * _DEEP_LEVELS),
    "wide": lambda n: list(range(MAX_METADATA_VALUES - 1)),
    "plain": lambda n: {"caption": f"caption {n}", "labels": ["bench", f"group-{n % 13}"]},
}


def write_manifest(path: Path, shape: str, rows: int) -> Path:
    make = _SHAPES[shape]
    with path.open("w") as out:
        for n in range(rows):
            row = {"id": f"{shape}-{n:06d}", "prompt": f"a picture {n}", "meta": make(n)}
            out.write(json.dumps(row, separators=(",", ":")) + "\n")
    return path


def submit(manifest: Path, workdir: Path, redis_url: str) -> str:
    """Submit `manifest` as a new batch; one line saying what it did and what it cost."""
    env = clean_env(
        SEEDREAM_BROKER_URL=redis_url,
        SEEDREAM_DATABASE_URL=f"sqlite:///{workdir / (manifest.stem + '.db')}",
    )
    log = workdir / f"{manifest.stem}.log"
    argv = [CLI, "submit", str(manifest), "--out", str(workdir / "out"), "--batch", manifest.stem]
    with log.open("wb") as out:
        cost = run_measured(argv, env, workdir, out)
    summary = next(
        (line for line in log.read_text(errors="replace").splitlines() if "jobs queued" in line),
        f"(no summary; see the log's tail: {log.read_text(errors='replace')[-300:]!r})",
    )
    size_mb = manifest.stat().st_size / 1e6
    return (
        f"| {manifest.stem} | {size_mb:.0f} | {cost.exit_code} | {cost.seconds:.1f} | "
        f"{cost.peak_rss_bytes / 1024**2:.0f} | {summary.strip()} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=6000)
    parser.add_argument("--shape", choices=list(_SHAPES), action="append")
    args = parser.parse_args()
    shapes = args.shape or list(_SHAPES)

    with tempfile.TemporaryDirectory() as tmp, running_redis(Path(tmp)) as redis_url:
        workdir = Path(tmp)
        print(f"\n`seedream-batch submit`, {args.rows:,} rows per manifest, SQLite, no worker\n")
        print("| shape | file MB | exit | seconds | peak RSS MB | summary |")
        print("|---|---:|---:|---:|---:|---|")
        for shape in shapes:
            manifest = write_manifest(workdir / f"{shape}.jsonl", shape, args.rows)
            print(submit(manifest, workdir, redis_url), flush=True)


if __name__ == "__main__":
    main()
