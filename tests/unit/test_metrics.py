"""The worker's metrics: each recording call moves the one series it names, in a fresh registry;
the reaper counts what a worker that died could not."""

import pytest
from prometheus_client import CollectorRegistry

from jobs.errors import ErrorClass
from jobs.results import ResultsTable
from jobs.states import JobState
from tests.support.tables import loaded
from worker.metrics import NO_ERROR, WorkerMetrics
from worker.reaper import AlwaysMyTurn, InProcessQueue, Reaper


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def metrics(registry: CollectorRegistry) -> WorkerMetrics:
    return WorkerMetrics(registry)


def test_finished_jobs_are_counted_by_state_and_error_class(
    metrics: WorkerMetrics, registry: CollectorRegistry
) -> None:
    metrics.job_finished(JobState.succeeded)
    metrics.job_finished(JobState.succeeded)
    metrics.job_finished(JobState.failed, ErrorClass.content_policy)

    def finished(state: str, error_class: str) -> float | None:
        labels = {"state": state, "error_class": error_class}
        return registry.get_sample_value("seedream_jobs_finished_total", labels)

    assert finished("succeeded", NO_ERROR) == 2
    assert finished("failed", "content_policy") == 1
    assert finished("failed", "timeout") is None


def test_failed_attempts_are_counted_by_error_class(
    metrics: WorkerMetrics, registry: CollectorRegistry
) -> None:
    metrics.attempt_failed(ErrorClass.rate_limited)
    metrics.attempt_failed(ErrorClass.rate_limited)

    assert (
        registry.get_sample_value("seedream_attempts_failed_total", {"error_class": "rate_limited"})
        == 2
    )


def test_api_latency_lands_in_buckets_for_both_the_emulator_and_seedream(
    metrics: WorkerMetrics, registry: CollectorRegistry
) -> None:
    for seconds in (0.004, 0.03, 42.0):
        metrics.api_call(seconds)

    def at_most(bound: str) -> float | None:
        return registry.get_sample_value("seedream_api_call_seconds_bucket", {"le": bound})

    assert (at_most("0.005"), at_most("0.05"), at_most("30.0"), at_most("45.0")) == (1, 2, 2, 3)
    assert registry.get_sample_value("seedream_api_call_seconds_count") == 3
    assert registry.get_sample_value("seedream_api_call_seconds_sum") == pytest.approx(42.034)


def test_limiter_waits_429s_bytes_and_spend_add_up(
    metrics: WorkerMetrics, registry: CollectorRegistry
) -> None:
    metrics.limiter_waited(0.0)
    metrics.limiter_waited(5.0)
    metrics.refused_as_rate_limited()
    metrics.stored(1000)
    metrics.stored(234)
    metrics.paid(0.03)
    metrics.paid(0.03)

    assert registry.get_sample_value("seedream_limiter_wait_seconds_count") == 2
    assert registry.get_sample_value("seedream_limiter_wait_seconds_sum") == 5.0
    assert registry.get_sample_value("seedream_rate_limited_total") == 1
    assert registry.get_sample_value("seedream_stored_bytes_total") == 1234
    assert registry.get_sample_value("seedream_spend_usd_total") == pytest.approx(0.06)


def test_the_reaper_counts_the_attempts_and_jobs_dead_workers_lost(
    metrics: WorkerMetrics, registry: CollectorRegistry, table: ResultsTable
) -> None:
    again_id, last_id = loaded(table, "again", "last")
    assert table.claim(last_id, "dead", lease_seconds=-1) is not None
    table.recover_expired_leases(max_attempts=2)  # "last" goes on to its second, last attempt
    assert table.claim(last_id, "dead", lease_seconds=-1) is not None
    assert table.claim(again_id, "dead", lease_seconds=-1) is not None

    reaper = Reaper(
        table,
        AlwaysMyTurn(),
        InProcessQueue(),
        max_attempts=2,
        lease_s=60,
        interval_s=60,
        metrics=metrics,
    )
    turn = reaper.reap()

    assert turn is not None
    assert turn.recovered == 2
    lost = {"error_class": "worker_lost"}
    assert registry.get_sample_value("seedream_attempts_failed_total", lost) == 2
    failed = {"state": "failed", **lost}
    assert registry.get_sample_value("seedream_jobs_finished_total", failed) == 1
