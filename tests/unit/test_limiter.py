"""The waiting policy and the client behind it, over a scripted backend."""

from dataclasses import dataclass, field

import pytest

from config.settings import Settings
from jobs.errors import RateLimited, ServerError
from jobs.models import ModelAdapter, ModelInput
from jobs.models.seedream_4_0 import Seedream40, Seedream40Input
from tests.support.generations import SEEDREAM_40, from_url
from worker.cloudflare import CallMetadata, Generation
from worker.limited_client import LimitedClient
from worker.limiter import ModelLimiters
from worker.limiter.backend import GatewayRecord, Reservation
from worker.limiter.limiter import Limiter
from worker.limiter.pacing import DEFAULT_COOL_DOWN_S


@dataclass
class ScriptedBackend:
    """Hands out the reservations it is given, and records what the limiter asked of it."""

    reservations: list[Reservation]
    epochs: list[int] = field(default_factory=list)
    cool_downs: list[tuple[str | None, int, float]] = field(default_factory=list)
    free_slots: int = 1
    released: list[str] = field(default_factory=list)
    waits_for_slot: int = 0
    #: whether each cool-down may lower the rate
    lowers: list[bool] = field(default_factory=list)
    #: what `note_refusal` answers: a healthy fleet (a success a second before the refusal)
    record: GatewayRecord = field(
        default_factory=lambda: GatewayRecord(10_000_000, 9_000_000, 10_000_000)
    )
    successes: list[str | None] = field(default_factory=list)

    def reserve(self) -> Reservation:
        return self.reservations.pop(0)

    def epoch(self, gateway: str | None) -> int:
        return self.epochs.pop(0)

    def cool_down(
        self, gateway: str | None, sent_at_us: int, seconds: float, *, lowers: bool = True
    ) -> None:
        self.cool_downs.append((gateway, sent_at_us, seconds))
        self.lowers.append(lowers)

    def note_success(self, gateway: str | None) -> None:
        self.successes.append(gateway)

    def note_refusal(self, gateway: str | None) -> GatewayRecord:
        return self.record

    def take_slot(self, holder: str) -> bool:
        if self.free_slots:
            self.free_slots -= 1
            return True
        return False

    def wait_for_slot(self, timeout_s: float) -> None:
        self.waits_for_slot += 1
        self.free_slots += 1  # someone released one meanwhile

    def release_slot(self, holder: str) -> None:
        self.released.append(holder)

    def renew_slots(self, holders: list[str]) -> None:
        pass


def limiter_over(backend: ScriptedBackend, *, capped: bool = False) -> tuple[Limiter, list[float]]:
    slept: list[float] = []
    return Limiter(backend, capped=capped, lease_s=30, sleep=slept.append), slept


def test_a_turn_due_now_goes_at_once_with_one_call_to_the_backend() -> None:
    backend = ScriptedBackend([Reservation("g1", 0.0, 100, 0)])
    limiter, slept = limiter_over(backend)

    with limiter.permit() as permit:
        assert (permit.gateway, permit.sent_at_us) == ("g1", 100)
    assert slept == []
    assert backend.reservations == []
    assert backend.epochs == []


def test_a_later_turn_is_slept_out_exactly_once() -> None:
    backend = ScriptedBackend([Reservation("g1", 2.5, 100, 7)], epochs=[7])
    limiter, slept = limiter_over(backend)

    with limiter.permit() as permit:
        assert permit.gateway == "g1"
    assert slept == [2.5]


def test_a_cool_down_that_began_during_the_sleep_books_a_new_turn() -> None:
    backend = ScriptedBackend(
        [Reservation("g1", 1.0, 100, 7), Reservation("g2", 3.0, 400, 8)], epochs=[8, 8]
    )
    limiter, slept = limiter_over(backend)

    with limiter.permit() as permit:
        assert (permit.gateway, permit.sent_at_us) == ("g2", 400)
    assert slept == [1.0, 3.0]


def test_a_capped_limiter_waits_for_a_slot_and_always_gives_it_back() -> None:
    backend = ScriptedBackend([Reservation(None, 0.0, 1, 0)], free_slots=0)
    limiter, _ = limiter_over(backend, capped=True)

    held_during_the_call: list[object] = []

    def failing_call() -> None:
        with limiter.permit():
            held_during_the_call.extend(limiter.held_slots())
            raise RuntimeError("the call failed")

    with pytest.raises(RuntimeError, match="the call failed"):
        failing_call()

    assert held_during_the_call
    assert backend.waits_for_slot == 1
    assert len(backend.released) == 1
    assert limiter.held_slots() == []


def test_a_429_cools_down_its_gateway_for_retry_after_or_the_default() -> None:
    backend = ScriptedBackend([Reservation("g2", 0.0, 500, 0)] * 2)
    limiter, _ = limiter_over(backend)

    with limiter.permit() as permit:
        limiter.rate_limited(permit, 12.0)
        limiter.rate_limited(permit, None)

    assert backend.cool_downs == [("g2", 500, 12.0), ("g2", 500, DEFAULT_COOL_DOWN_S)]


class FakeClient:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.gateways: list[str | None] = []

    def generate(
        self,
        model: ModelAdapter,
        spec: ModelInput,
        *,
        gateway_id: str | None = None,
        metadata: CallMetadata | None = None,
    ) -> Generation:
        self.gateways.append(gateway_id)
        if self.error is not None:
            raise self.error
        return from_url("https://img.test/a.jpeg")


def limited(client: FakeClient, backend: ScriptedBackend) -> LimitedClient:
    limiter = limiter_over(backend)[0]
    return LimitedClient(client, lambda _model: limiter)


def test_the_limited_client_calls_through_the_permits_gateway() -> None:
    backend = ScriptedBackend([Reservation("g3", 0.0, 1, 0)])
    client = FakeClient()

    limited(client, backend).generate(SEEDREAM_40, Seedream40Input(prompt="a fox"), metadata={})

    assert client.gateways == ["g3"]


def test_a_429_from_the_provider_cools_the_fleet_and_still_fails_the_attempt() -> None:
    backend = ScriptedBackend([Reservation("g1", 0.0, 9, 0)])
    client = FakeClient(RateLimited("slow down", retry_after=30.0))

    with pytest.raises(RateLimited):
        limited(client, backend).generate(SEEDREAM_40, Seedream40Input(prompt="a fox"), metadata={})

    assert backend.cool_downs == [("g1", 9, 30.0)]


def test_other_failures_do_not_cool_anything_down() -> None:
    backend = ScriptedBackend([Reservation("g1", 0.0, 9, 0)])
    client = FakeClient(ServerError("upstream 502"))

    with pytest.raises(ServerError):
        limited(client, backend).generate(SEEDREAM_40, Seedream40Input(prompt="a fox"), metadata={})

    assert backend.cool_downs == []


class OwnLimit(Seedream40):
    """Seedream 4.0 as if it counted against a limit of its own."""

    limit_scope = "its-own"


def test_models_that_share_a_provider_limit_share_one_limiter(
    several_images_model: ModelAdapter,
) -> None:
    limiters = ModelLimiters(Settings(_env_file=None))

    shared = limiters.for_model(SEEDREAM_40)

    assert limiters.for_model(several_images_model) is shared
    assert limiters.for_model(OwnLimit()) is not shared
