"""Stray 429: what one refusal from timing jitter costs a fleet that is configured right.

    .venv/bin/python -m bench.stray_429 [--limit 60/10s] [--jobs 900] [--latency 1]

Starts the emulator enforcing `--limit` per gateway (refusing over-rate calls with a plain 429),
a private Redis and a throwaway PostgreSQL database, and a fleet configured with that same limit.
Once the rate is steady (two windows in), one plain 429 is injected (`POST /__emulator/inject`):
the next call is refused. It prints the share of the limit the fleet used over the next five
windows (target: at least 0.9) and the calls billed per second from the injection on.
"""

import argparse
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from bench.harness import fleet, submit, wait_final
from jobs.rates import RateLimit
from jobs.states import JobState
from tests.support.manifests import write_manifest
from tests.support.processes import clean_env
from tests.support.services import (
    POSTGRES_ADMIN_URL,
    Emulator,
    running_emulator,
    running_redis,
    temporary_postgres_database,
)

BATCH = "stray"
#: windows of steady calls before the refusal, so the start-up is not what is measured
STEADY_WINDOWS = 2
#: windows measured after it: the recovery, and enough after it to show it held
MEASURED_WINDOWS = 5
SAMPLE_EVERY_S = 0.25


def sample_billed(emulator: Emulator, until: float) -> list[tuple[float, int]]:
    """(time, calls billed so far) every SAMPLE_EVERY_S until the monotonic time `until`."""
    samples = []
    while (now := time.monotonic()) < until:
        samples.append((now, int(emulator.stats()["billed"])))
        time.sleep(SAMPLE_EVERY_S)
    samples.append((time.monotonic(), int(emulator.stats()["billed"])))
    return samples


def billed_at(samples: list[tuple[float, int]], at: float) -> int:
    """Calls billed by `at`: the last sample taken at or before it."""
    return max((billed for when, billed in samples if when <= at), default=samples[0][1])


def per_second(samples: list[tuple[float, int]], start: float, seconds: int) -> list[int]:
    return [
        billed_at(samples, start + s + 1) - billed_at(samples, start + s) for s in range(seconds)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", default="60/10s", help="the emulator's and the fleet's limit")
    parser.add_argument("--jobs", type=int, default=900)
    parser.add_argument("--latency", type=float, default=1.0, help="seconds per API call")
    parser.add_argument("--jitter", type=float, default=0.5, help="uniform extra 0..jitter s")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--kind", default="gateway_429", help="the fault injected")
    args = parser.parse_args()
    limit = RateLimit.parse(args.limit)
    assert limit is not None, "the benchmark needs a limit"
    window = limit.window_s

    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        emulator = stack.enter_context(running_emulator(workdir))
        emulator.configure(
            latency_s=args.latency,
            jitter_s=args.jitter,
            rate_limit=str(limit),
            rate_limit_answer="plain_429",
        )
        env = clean_env(
            **emulator.env(),
            SEEDREAM_BROKER_URL=stack.enter_context(running_redis(workdir)),
            SEEDREAM_DATABASE_URL=stack.enter_context(
                temporary_postgres_database(POSTGRES_ADMIN_URL)
            ),
            SEEDREAM_CONCURRENCY=str(args.threads),
        )
        manifest = write_manifest(workdir / "stray.jsonl", good=args.jobs).path
        with fleet(env, workdir, args.processes):
            submit(env, manifest, BATCH, str(workdir / "out"))
            first = sample_billed(emulator, time.monotonic() + 60)
            started = next((t for t, billed in first if billed > 0), first[-1][0])
            sample_billed(emulator, started + STEADY_WINDOWS * window)
            injected_at = time.monotonic()
            emulator.inject(args.kind)
            samples = sample_billed(emulator, injected_at + MEASURED_WINDOWS * window + 1)
            stats = emulator.stats()
            counts = wait_final(env, BATCH)

    measured = billed_at(samples, injected_at + MEASURED_WINDOWS * window) - samples[0][1]
    share = measured / (MEASURED_WINDOWS * limit.count)
    print(
        f"\nemulator and fleet at {limit}, latency {args.latency}+0..{args.jitter} s, "
        f"{args.processes} × {args.threads} workers; one {args.kind} injected "
        f"{STEADY_WINDOWS} windows in\n"
    )
    print(f"share of the limit used over the next {MEASURED_WINDOWS} windows: {share:.3f}")
    print(f"refusals: {stats['rate_limited']} by the limit, by fault {stats['by_fault']}")
    print(f"succeeded {counts[JobState.succeeded]}/{args.jobs}")
    windows = [
        billed_at(samples, injected_at + (w + 1) * window)
        - billed_at(samples, injected_at + w * window)
        for w in range(MEASURED_WINDOWS)
    ]
    print(f"calls billed per window from the injection on: {windows} (limit {limit.count})")
    series = per_second(samples, injected_at, round(MEASURED_WINDOWS * window))
    print(f"calls billed per second from the injection on: {series}")


if __name__ == "__main__":
    main()
