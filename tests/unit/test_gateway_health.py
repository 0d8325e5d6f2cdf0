"""worker.gateway_health: what a 2009 or a 429 really is, judged by the fleet's record. A table."""

import pytest

from jobs.errors import AuthError, JobError, QuotaExceeded, RateLimited, ServerError
from jobs.models.seedream_4_0 import Seedream40Input
from tests.support.generations import SEEDREAM_40
from tests.unit.test_limiter import FakeClient, ScriptedBackend, limiter_over
from worker.gateway_health import GatewayHealth, Thresholds, judge
from worker.limited_client import LimitedClient
from worker.limiter.backend import GatewayRecord, Reservation

S = 1_000_000  # µs
#: small spans, as the integration tests configure them through the limit's window
THRESHOLDS = Thresholds(recent_success_s=300, stuck_after_s=180)
NOW = 10_000 * S


def record(*, succeeded_ago_s: float | None, streak_s: float) -> GatewayRecord:
    """The fleet's record at NOW: the last success that long ago (None: never), and a streak of
    refusals that long (0: this refusal starts it)."""
    succeeded = 0 if succeeded_ago_s is None else NOW - round(succeeded_ago_s * S)
    return GatewayRecord(NOW, succeeded, NOW - round(streak_s * S))


def over_rate() -> AuthError:
    return AuthError("HTTP 401 code 2009: Unauthorized", provider_code=2009)


def rate_429(code: int | None = None) -> RateLimited:
    return RateLimited("HTTP 429: Too Many Requests", provider_code=code)


CASES: list[tuple[str, JobError, GatewayRecord, type[JobError]]] = [
    # 2009 in a healthy fleet: a rate limit
    ("2009, success 1 s ago", over_rate(), record(succeeded_ago_s=1, streak_s=0), RateLimited),
    ("2009, success 299 s ago", over_rate(), record(succeeded_ago_s=299, streak_s=0), RateLimited),
    ("2009, short streak", over_rate(), record(succeeded_ago_s=30, streak_s=29), RateLimited),
    # 2009 with no success in a while, or ever: the token
    ("2009, never succeeded", over_rate(), record(succeeded_ago_s=None, streak_s=0), AuthError),
    ("2009, success 301 s ago", over_rate(), record(succeeded_ago_s=301, streak_s=0), AuthError),
    # 2009 that keeps coming past a few cool-downs with no success between: the token
    ("2009, long streak", over_rate(), record(succeeded_ago_s=200, streak_s=181), AuthError),
    # 429s: a rate limit, until they are all the gateway answers for long: stuck
    ("429, short streak", rate_429(), record(succeeded_ago_s=None, streak_s=179), RateLimited),
    ("429, long streak", rate_429(), record(succeeded_ago_s=200, streak_s=181), QuotaExceeded),
    ("3040, short streak", rate_429(3040), record(succeeded_ago_s=1, streak_s=0), RateLimited),
    (
        "3040, long streak",
        rate_429(3040),
        record(succeeded_ago_s=None, streak_s=181),
        QuotaExceeded,
    ),
    # a 403-style auth error without 2009 is not judged here (3023 and 403 stay auth)
]


@pytest.mark.parametrize(
    ("error", "seen", "expected"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_a_refusal_is_what_the_fleets_record_says(
    error: JobError, seen: GatewayRecord, expected: type[JobError]
) -> None:
    assert judge(error, seen, THRESHOLDS) is expected


def test_the_thresholds_are_windows_of_the_limit() -> None:
    assert Thresholds.for_window(60.0) == Thresholds(recent_success_s=300, stuck_after_s=180)


# through the limited client


def call(backend: ScriptedBackend, error: Exception | None) -> None:
    limiter = limiter_over(backend)[0]
    client = LimitedClient(FakeClient(error), lambda _model: limiter, thresholds=THRESHOLDS)
    client.generate(SEEDREAM_40, Seedream40Input(prompt="a fox"), metadata={})


def test_a_2009_in_a_healthy_fleet_is_raised_as_a_rate_limit_and_cools_the_gateway() -> None:
    backend = ScriptedBackend([Reservation("g1", 0.0, 9, 0)])

    with pytest.raises(RateLimited, match="2009"):
        call(backend, over_rate())

    assert backend.cool_downs == [("g1", 9, 1.0)]
    assert backend.lowers == [True]


def test_a_2009_with_no_success_ever_pauses_as_a_bad_token_without_cooling() -> None:
    backend = ScriptedBackend(
        [Reservation("g1", 0.0, 9, 0)], record=record(succeeded_ago_s=None, streak_s=0)
    )

    with pytest.raises(AuthError, match=r"gateway g1 .*CLOUDFLARE_API_TOKEN"):
        call(backend, over_rate())

    assert backend.cool_downs == []


def test_a_stuck_gateway_pauses_as_quota_naming_the_gateway_and_the_causes() -> None:
    backend = ScriptedBackend(
        [Reservation("g1", 0.0, 9, 0)], record=record(succeeded_ago_s=None, streak_s=200)
    )

    with pytest.raises(QuotaExceeded, match=r"gateway g1 .*spend limit.*SEEDREAM_RATE_LIMIT"):
        call(backend, rate_429())


def test_a_capacity_429_cools_the_gateway_but_never_lowers_its_rate() -> None:
    backend = ScriptedBackend([Reservation("g1", 0.0, 9, 0)])

    with pytest.raises(RateLimited):
        call(backend, rate_429(3040))

    assert backend.lowers == [False]


def test_a_spend_limit_names_the_gateway_it_came_through() -> None:
    backend = ScriptedBackend([Reservation(None, 0.0, 9, 0)])

    with pytest.raises(QuotaExceeded, match=r"^gateway default: HTTP 429 spend"):
        call(backend, QuotaExceeded("HTTP 429 spend limit exceeded"))


def test_a_non_2009_auth_error_is_left_alone() -> None:
    backend = ScriptedBackend([Reservation("g1", 0.0, 9, 0)])

    with pytest.raises(AuthError, match=r"^HTTP 403"):
        call(backend, AuthError("HTTP 403 code 3023: blocked", provider_code=3023))

    assert backend.cool_downs == []


def test_successes_are_written_at_most_once_a_second_per_gateway() -> None:
    backend = ScriptedBackend([])
    now = [0.0]
    health = GatewayHealth(limiter_over(backend)[0], THRESHOLDS, clock=lambda: now[0])

    for at in (0.0, 0.5, 0.99, 1.0, 1.2, 2.5):
        now[0] = at
        health.succeeded("g1")
    health.succeeded("g2")

    assert backend.successes == ["g1", "g1", "g1", "g2"]


def test_a_refusal_lets_the_next_success_be_written_at_once() -> None:
    backend = ScriptedBackend([Reservation("g1", 0.0, 9, 0)])
    now = [0.0]
    limiter = limiter_over(backend)[0]
    health = GatewayHealth(limiter, THRESHOLDS, clock=lambda: now[0])
    health.succeeded("g1")
    with limiter.permit() as permit:
        health.refused(permit, rate_429())

    now[0] = 0.1
    health.succeeded("g1")

    assert backend.successes == ["g1", "g1"]


def test_other_errors_pass_through_untouched() -> None:
    backend = ScriptedBackend([Reservation("g1", 0.0, 9, 0)])

    with pytest.raises(ServerError, match=r"^upstream"):
        call(backend, ServerError("upstream 502"))
