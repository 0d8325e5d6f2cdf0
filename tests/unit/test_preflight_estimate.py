"""The arithmetic of doctor's estimate: the rate the gateways allow, the calls in flight that reach
it (Little's law at the assumed call time), and for N jobs the time and the provider's bill."""

import pytest

from jobs.rates import RateLimit
from producer.preflight.estimate import ASSUMED_CALL_S, RunPlan, plan_lines
from producer.preflight.lines import Outcome

MODEL = "bytedance/seedream-4.0"
CLOUDFLARE_LIMIT = RateLimit(count=200, window_s=60)


def plan(
    gateways: int = 2, cap: int | None = 500, limit: RateLimit | None = CLOUDFLARE_LIMIT
) -> RunPlan:
    return RunPlan(MODEL, 0.03, gateways, limit, cap)


def test_gateways_times_the_rate_limit_is_the_images_per_minute() -> None:
    assert plan(gateways=2).limit_per_minute() == 400
    assert plan(gateways=3, limit=RateLimit(count=10, window_s=2)).limit_per_minute() == 900


def test_the_calls_in_flight_needed_are_the_rate_times_the_call_time() -> None:
    assert ASSUMED_CALL_S == 30
    assert plan(gateways=2).needed_in_flight() == 200  # 400/min = 6.67/s × 30 s


def test_an_in_flight_cap_below_the_need_holds_the_rate_down() -> None:
    held = plan(gateways=2, cap=16)

    assert held.per_minute() == 32  # 16 calls of 30 s each
    assert plan(gateways=2, cap=500).per_minute() == 400


def test_a_million_jobs_at_400_per_minute_take_41_hours_40_and_cost_30000_dollars() -> None:
    million = plan(gateways=2)

    assert million.seconds_for(1_000_000) == pytest.approx(150_000)
    assert million.spend_for(1_000_000) == pytest.approx(30_000)


def test_the_estimate_line_says_the_time_the_spend_and_that_the_credit_fee_is_left_out() -> None:
    lines = plan_lines(plan(gateways=2), 1_000_000, "m.jsonl")

    estimate = lines[-1].render()
    assert estimate == (
        "· estimate: 1,000,000 jobs (the valid rows of m.jsonl): about 41h 40m at 400 per minute; "
        "about $30,000.00 for the provider (1,000,000 × $0.03), before Unified Billing's ~5 % "
        "credit fee"
    )


def test_jobs_whose_calls_may_return_several_images_are_priced_by_the_images() -> None:
    lines = plan_lines(plan(gateways=2), 1_000, "m.jsonl", images=3_000)

    assert lines[-1].render() == (
        "· estimate: 1,000 jobs (the valid rows of m.jsonl): about 2m 30s at 400 per minute; "
        "at most $90.00 (3,000 images) for the provider (3,000 × $0.03), before Unified "
        "Billing's ~5 % credit fee"
    )


def test_the_rate_and_in_flight_lines_name_the_settings_and_the_assumed_call_time() -> None:
    model, rate, in_flight = (line.render() for line in plan_lines(plan(gateways=2), None, None))

    assert model == (
        f"· model: {MODEL} at $0.03 per image (SEEDREAM_PRICES, SEEDREAM_PRICE_PER_IMAGE, or the "
        "model's estimate)"
    )
    assert rate == (
        "· rate: 2 gateways × 200/60s = 400 images per minute "
        "(CLOUDFLARE_GATEWAY_IDS × SEEDREAM_RATE_LIMIT)"
    )
    assert in_flight == (
        "· in flight: 200 calls in flight reach it at 30 s a call (assumed: Seedream takes "
        "10-60 s); up to 500 may go at once"
    )


def test_too_few_calls_in_flight_is_a_warning_saying_what_to_raise_it_to() -> None:
    [_, _, in_flight] = plan_lines(plan(gateways=2, cap=16), None, None)

    assert in_flight.outcome is Outcome.warning
    assert "at most 16 go at once" in in_flight.text
    assert "about 32 images per minute; raise it to 200" in in_flight.text


def test_a_fleet_without_a_cap_is_told_how_many_threads_reach_the_rate() -> None:
    [_, _, in_flight] = plan_lines(plan(gateways=1, cap=None), None, None)

    assert in_flight.outcome is Outcome.note
    assert "run workers whose SEEDREAM_CONCURRENCY adds up to 100 or more" in in_flight.text


def test_without_a_limit_or_a_cap_there_is_no_time_estimate_but_still_a_spend() -> None:
    lines = plan_lines(plan(cap=None, limit=None), 10, None)

    assert "no rate limit set" in lines[1].text
    assert lines[-1].text.startswith("10 jobs: no time estimate")
    assert "about $0.30 for the provider" in lines[-1].text
