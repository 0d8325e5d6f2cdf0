"""The fleet-wide limiter's promises, against real Redis with several worker processes.

Each "worker" is a process of tests/support/limiter_probe.py, building its limiter from the
environment as a worker does. Times are wall-clock, read in the processes of one machine.
"""

import itertools
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import redis

from tests.support.processes import Service, wait_until
from tests.support.rate_windows import most_in_any_window

PROBE = [sys.executable, "-m", "tests.support.limiter_probe"]
ROOT = Path(__file__).resolve().parents[2]


def probe_env(redis_url: str, **settings: str) -> dict[str, str]:
    return {
        "SEEDREAM_LIMITER_URL": redis_url,
        "CLOUDFLARE_ACCOUNT_ID": "acct-limiter",
        "SEEDREAM_MAX_IN_FLIGHT": "",
        "CLOUDFLARE_GATEWAY_IDS": "",
        **settings,
    }


def pace_in_processes(
    processes: int, threads: int, seconds: float, env: dict[str, str], out: Path
) -> list[tuple[float, str]]:
    """Run `processes` probes taking permits for `seconds`; every grant, sorted by time."""
    running = [
        subprocess.Popen(
            [*PROBE, "pace", str(threads), str(seconds), str(out)],
            env=_environ(env),
            cwd=ROOT,
        )
        for _ in range(processes)
    ]
    for process in running:
        assert process.wait(timeout=seconds + 60) == 0
    grants = []
    for line in out.read_text().splitlines():
        at, gateway = line.split()
        grants.append((float(at), gateway))
    return sorted(grants)


def _environ(env: dict[str, str]) -> dict[str, str]:
    return {**os.environ, **env}


def test_the_fleet_never_exceeds_the_limit_in_any_window_and_uses_it(
    fresh_redis: str, tmp_path: Path
) -> None:
    env = probe_env(fresh_redis, SEEDREAM_RATE_LIMIT="20/1s")

    grants = pace_in_processes(3, 5, 4.0, env, tmp_path / "grants")

    times = [at for at, _ in grants]
    assert most_in_any_window(times, 1.0) <= 20
    steady_rate = (len(times) - 1) / (times[-1] - times[0])
    assert steady_rate >= 0.95 * 20 / 1.1  # the pace: 20 per 1 s + the 0.1 s safety margin


def test_a_waiting_worker_sleeps_its_wait_instead_of_polling(
    fresh_redis: str, tmp_path: Path
) -> None:
    client = redis.Redis.from_url(fresh_redis)
    client.config_resetstat()
    env = probe_env(fresh_redis, SEEDREAM_RATE_LIMIT="10/1s")

    grants = pace_in_processes(2, 8, 2.0, env, tmp_path / "grants")

    stats = client.info("commandstats")
    scripts = stats.get("cmdstat_evalsha", {}).get("calls", 0)
    epoch_checks = stats.get("cmdstat_hget", {}).get("calls", 0)
    # 16 threads queue for ~20 turns: each turn is one script and, after its sleep, one check.
    # Polling would show hundreds of calls. (+16: each thread's last turn fell past the deadline)
    permits = len(grants) + 16
    assert scripts <= permits + 2  # + the first call of each process, before the script loaded
    assert epoch_checks <= permits


def test_each_gateway_has_its_own_limit_so_gateways_multiply_the_rate(
    fresh_redis: str, tmp_path: Path
) -> None:
    env = probe_env(fresh_redis, SEEDREAM_RATE_LIMIT="10/1s", CLOUDFLARE_GATEWAY_IDS="g1,g2,g3")

    grants = pace_in_processes(2, 6, 3.0, env, tmp_path / "grants")

    per_gateway = Counter(gateway for _, gateway in grants)
    assert set(per_gateway) == {"g1", "g2", "g3"}
    for gateway in per_gateway:
        times = [at for at, used in grants if used == gateway]
        assert most_in_any_window(times, 1.0) <= 10
    rate = (len(grants) - 1) / (grants[-1][0] - grants[0][0])
    assert rate >= 0.9 * 3 * 10 / 1.1


def test_a_killed_workers_slots_come_back_and_a_live_workers_are_kept(
    fresh_redis: str, tmp_path: Path
) -> None:
    env = probe_env(
        fresh_redis,
        SEEDREAM_RATE_LIMIT="none",
        SEEDREAM_MAX_IN_FLIGHT="3",
        SEEDREAM_IN_FLIGHT_LEASE_SECONDS="1",
    )
    holder = Service([*PROBE, "hold", "3"], tmp_path / "holder.log", env=env, cwd=ROOT)
    grants = tmp_path / "grants"
    waiter = None
    try:
        wait_until(lambda: "held" in holder.output(), 30, "the holder taking every slot")
        waiter = Service(
            [*PROBE, "pace", "1", "60", str(grants)], tmp_path / "waiter.log", env=env, cwd=ROOT
        )
        time.sleep(3.0)  # three leases: the holder's slots are renewed, not expired
        assert not grants.exists() or grants.read_text() == ""

        holder.stop(signal.SIGKILL)
        killed_at = time.time()
        wait_until(lambda: grants.exists() and grants.read_text() != "", 10, "a slot freed")
        first_grant = float(grants.read_text().split()[0])
        assert first_grant - killed_at <= 1.0 + 1.0 + 0.5  # lease + one wake-up wait + slack
    finally:
        holder.stop()
        if waiter is not None:
            waiter.stop()


def test_a_repeated_429_cools_the_whole_fleet_down_and_lowers_its_rate(
    fresh_redis: str, tmp_path: Path
) -> None:
    # a 2 s window: the second call, sent after the first refusal's 1.5 s cool-down, is refused
    # within it, and the rate recovers slowly enough to be measured at half
    env = probe_env(fresh_redis, SEEDREAM_RATE_LIMIT="40/2s")

    subprocess.run([*PROBE, "refuse", "1.5", "2"], env=_environ(env), cwd=ROOT, check=True)
    refused_at = time.time()
    grants = pace_in_processes(1, 4, 4.0, env, tmp_path / "grants")

    times = [at for at, _ in grants]
    assert times[0] >= refused_at + 1.5 - 0.5  # the other process waited out the cool-down
    gaps = sorted(b - a for a, b in itertools.pairwise(times[:6]))  # the first five
    normal_gap = 2.1 / 40
    assert gaps[len(gaps) // 2] >= 1.8 * normal_gap  # at half the rate just after it


def test_a_lone_429_cools_the_whole_fleet_down_but_keeps_its_rate(
    fresh_redis: str, tmp_path: Path
) -> None:
    env = probe_env(fresh_redis, SEEDREAM_RATE_LIMIT="20/1s")

    subprocess.run([*PROBE, "refuse", "2.0"], env=_environ(env), cwd=ROOT, check=True)
    refused_at = time.time()
    grants = pace_in_processes(1, 4, 4.0, env, tmp_path / "grants")

    times = [at for at, _ in grants]
    assert times[0] >= refused_at + 2.0 - 0.5  # the other process waited out the cool-down
    gaps = sorted(b - a for a, b in itertools.pairwise(times[:6]))  # the first five
    normal_gap = 1.1 / 20
    assert gaps[len(gaps) // 2] <= 1.3 * normal_gap  # at the full rate at once
