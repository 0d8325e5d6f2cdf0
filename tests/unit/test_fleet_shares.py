"""What `status` says of a batch's share of the fleet right now, and the time left at it, on real
SQLite and PostgreSQL: shares by weight among the batches with work due or out, none while
paused, a cap shown beside the share."""

import math
from datetime import UTC, datetime

import pytest

from jobs.batch_summary import BatchSummary
from jobs.fleet_shares import FleetShares
from jobs.records import Share
from jobs.results import ResultsTable
from tests.support.dispatching import dispatched
from tests.support.tables import loaded

#: the provider's limit over the fleet's gateways, in calls per second
FLEET_CALLS_PER_S = 10.0


def keys(count: int) -> list[str]:
    return [f"k{n}" for n in range(count)]


def summary(
    table: ResultsTable, batch: str, calls_per_s: float = FLEET_CALLS_PER_S
) -> BatchSummary:
    """The batch's summary, with the fleet's shares read as `status` reads them."""
    shares = FleetShares.read(table.engine, datetime.now(UTC), calls_per_s)
    found = table.get_batch(batch) or pytest.fail(f"no batch {batch}")
    return BatchSummary.of(table, found, shares=shares)


def test_batches_of_weight_1_and_3_get_a_quarter_and_three_quarters_of_the_fleet(
    table: ResultsTable,
) -> None:
    loaded(table, *keys(10), batch="light", share=Share(weight=1))
    loaded(table, *keys(30), batch="heavy", share=Share(weight=3))

    light, heavy = summary(table, "light"), summary(table, "heavy")

    assert (light.fleet_share, heavy.fleet_share) == (0.25, 0.75)
    assert (light.share_calls_per_s, heavy.share_calls_per_s) == (2.5, 7.5)
    assert light.share_eta_s == pytest.approx(10 / 2.5)
    assert heavy.share_eta_s == pytest.approx(30 / 7.5)
    assert (light.weight, heavy.weight) == (1.0, 3.0)
    assert "share: weight 3, 75% of the fleet now (7.50 calls/s), about 4s left" in heavy.render()
    assert heavy.as_json()["fleet_share"] == 0.75
    assert heavy.share_label == "75%"


def test_a_paused_batch_has_no_share_and_the_others_take_it(table: ResultsTable) -> None:
    loaded(table, *keys(5), batch="held", share=Share(weight=3))
    loaded(table, *keys(5), batch="going", share=Share(weight=1))
    assert table.pause("held")

    held, going = summary(table, "held"), summary(table, "going")

    assert held.fleet_share == 0.0
    assert held.share_eta_s is None
    assert held.share_label == "paused"
    assert "share: weight 3, none while paused" in held.render()
    assert going.fleet_share == 1.0
    assert going.share_eta_s == pytest.approx(5 / FLEET_CALLS_PER_S)


def test_a_batch_with_all_its_jobs_out_still_holds_its_share(table: ResultsTable) -> None:
    loaded(table, *keys(4), batch="out")
    dispatched(table)  # every job of `out` sent: none due, all unclaimed
    loaded(table, *keys(4), batch="late")

    out, late = summary(table, "out"), summary(table, "late")

    assert (out.fleet_share, late.fleet_share) == (0.5, 0.5)
    assert out.in_flight == 4


def test_a_capped_batch_is_shown_with_its_cap_and_its_jobs_out(table: ResultsTable) -> None:
    loaded(table, *keys(10), batch="capped", share=Share(weight=1, max_in_flight=2))
    loaded(table, *keys(10), batch="free", share=Share(weight=1))
    dispatched(table)  # the cap lets 2 of `capped` out

    capped = summary(table, "capped")

    assert capped.fleet_share == 0.5
    assert (capped.max_in_flight, capped.in_flight) == (2, 2)
    assert capped.share_label == "50% cap 2"
    assert "at most 2 in flight (2 out)" in capped.render()
    assert capped.as_json()["max_in_flight"] == 2


def test_without_a_provider_limit_there_is_a_share_but_no_eta_from_it(
    table: ResultsTable,
) -> None:
    loaded(table, *keys(3), batch="b")

    alone = summary(table, "b", calls_per_s=math.inf)

    assert alone.fleet_share == 1.0
    assert alone.share_calls_per_s is None
    assert alone.share_eta_s is None
    assert alone.likely_eta_s is None


def test_a_batch_that_is_not_running_has_no_share(table: ResultsTable) -> None:
    loaded(table, *keys(2), batch="b")
    table.cancel("b")

    cancelled = summary(table, "b")

    assert (cancelled.fleet_share, cancelled.share_label) == (0.0, "-")
    assert "share:" not in cancelled.render()


@pytest.mark.parametrize(
    ("pace_eta", "share_eta", "likely"),
    [(100.0, 40.0, 100.0), (40.0, 100.0, 100.0), (None, 40.0, 40.0), (100.0, None, 100.0)],
)
def test_the_listed_eta_is_the_later_of_the_pace_and_the_share(
    pace_eta: float | None, share_eta: float | None, likely: float
) -> None:
    shown = BatchSummary("b", "./out", {}, 0, 0.0, eta_s=pace_eta, share_eta_s=share_eta)
    assert shown.likely_eta_s == likely
