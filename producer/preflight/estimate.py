"""What the settings mean for a run, worked out without calling the model: the rate the gateways
allow, the calls in flight needed to reach it, and for N jobs the time and the provider's bill.

The arithmetic is Little's law: calls in flight = rate × call time. A call's time is assumed,
not measured (doctor generates nothing), and said in the line that uses it.
"""

import math
from dataclasses import dataclass

from config.settings import Settings
from jobs.batch_summary import duration
from jobs.rates import RateLimit
from jobs.wording import counted
from producer.preflight.lines import CheckLine, note, warning

#: a Seedream 4.0 call takes 10-60 s from request to answer; 30 s is the middle of that
ASSUMED_CALL_S = 30.0
#: Unified Billing charges a fee on the credits it sells (~5 %), which the model's price excludes
CREDIT_FEE_PERCENT = 5
SECONDS_PER_MINUTE = 60.0


@dataclass(frozen=True)
class RunPlan:
    """The settings that set a run's pace and cost."""

    model: str
    price_per_image: float
    #: how many gateways the calls are spread over (the account's default one when none is set)
    gateways: int
    #: per gateway; None = no limit
    rate_limit: RateLimit | None
    #: the most calls in flight: SEEDREAM_MAX_IN_FLIGHT, or the threads of this process (`run`
    #: without a broker); None = the fleet's threads, which this machine cannot count
    in_flight_cap: int | None
    call_s: float = ASSUMED_CALL_S

    @classmethod
    def from_settings(cls, settings: Settings, model: str) -> "RunPlan":
        """The plan of a batch of `model` under `settings`."""
        cap = settings.max_in_flight
        if cap is None and settings.embedded:
            cap = settings.concurrency
        return cls(
            model,
            settings.price_for(model),
            max(len(settings.gateway_ids), 1),
            settings.rate_limit,
            cap,
        )

    def limit_per_minute(self) -> float | None:
        """Images per minute the gateways allow together; None without a limit."""
        if self.rate_limit is None:
            return None
        return self.rate_limit.per_second(self.gateways) * SECONDS_PER_MINUTE

    def needed_in_flight(self) -> int | None:
        """Calls in flight to keep the gateways at their limit (Little's law); None without one."""
        limit = self.limit_per_minute()
        return None if limit is None else math.ceil(limit / SECONDS_PER_MINUTE * self.call_s)

    def per_minute(self) -> float | None:
        """Images per minute the run can reach: the limit, or less when the in-flight cap holds it
        back; None when neither bounds it here (no limit, the fleet's threads)."""
        by_cap = (
            None
            if self.in_flight_cap is None
            else self.in_flight_cap * SECONDS_PER_MINUTE / self.call_s
        )
        limits = [rate for rate in (self.limit_per_minute(), by_cap) if rate is not None]
        return min(limits) if limits else None

    def seconds_for(self, jobs: int) -> float | None:
        per_minute = self.per_minute()
        return None if per_minute is None else jobs / per_minute * SECONDS_PER_MINUTE

    def spend_for(self, images: int) -> float:
        return images * self.price_per_image


def plan_lines(
    plan: RunPlan, jobs: int | None, counted_in: str | None, images: int | None = None
) -> list[CheckLine]:
    """The plan's lines: model and price, rate, in-flight, and (given N jobs) time and spend.

    A job is one call, whatever it returns: time goes by jobs. Spend goes by `images`, the most
    the jobs' calls may return (a Seedream 4.5 row with `max_images`), when known; else one each.
    """
    lines = [
        note(
            "model",
            f"{plan.model} at ${plan.price_per_image:g} per image (SEEDREAM_PRICES, "
            "SEEDREAM_PRICE_PER_IMAGE, or the model's estimate)",
        ),
        note("rate", _rate_text(plan)),
        _in_flight_line(plan),
    ]
    if jobs is not None:
        lines.append(note("estimate", _estimate_text(plan, jobs, counted_in, images or jobs)))
    return lines


def _rate_text(plan: RunPlan) -> str:
    limit = plan.limit_per_minute()
    gateways = counted(plan.gateways, "gateway")
    if limit is None or plan.rate_limit is None:
        return (
            f"{gateways}, no rate limit set (SEEDREAM_RATE_LIMIT=none): Cloudflare's own limit "
            "applies"
        )
    return (
        f"{gateways} × {plan.rate_limit} = {limit:,.0f} images per minute "
        "(CLOUDFLARE_GATEWAY_IDS × SEEDREAM_RATE_LIMIT)"
    )


def _in_flight_line(plan: RunPlan) -> CheckLine:
    needed = plan.needed_in_flight()
    assumed = f"{plan.call_s:g} s a call (assumed: Seedream takes 10-60 s)"
    if needed is None:
        return note(
            "in flight",
            f"no limit to reach; each call in flight makes {SECONDS_PER_MINUTE / plan.call_s:g} "
            f"images per minute at {assumed}",
        )
    reach = f"{needed:,} calls in flight reach it at {assumed}"
    if plan.in_flight_cap is None:
        return note(
            "in flight",
            f"{reach}: run workers whose SEEDREAM_CONCURRENCY adds up to {needed:,} or more",
        )
    if plan.in_flight_cap < needed:
        held = plan.per_minute() or 0.0
        return warning(
            "in flight",
            f"{reach}, but at most {plan.in_flight_cap:,} go at once (SEEDREAM_MAX_IN_FLIGHT, or "
            f"SEEDREAM_CONCURRENCY threads): about {held:,.0f} images per minute; raise it to "
            f"{needed:,}",
        )
    return note("in flight", f"{reach}; up to {plan.in_flight_cap:,} may go at once")


def _estimate_text(plan: RunPlan, jobs: int, counted_in: str | None, images: int) -> str:
    source = f" (the valid rows of {counted_in})" if counted_in else ""
    seconds = plan.seconds_for(jobs)
    per_minute = plan.per_minute()
    pace = (
        "no time estimate without a rate limit or an in-flight cap"
        if seconds is None or per_minute is None
        else f"about {duration(seconds)} at {per_minute:,.0f} per minute"
    )
    spend = f"about ${plan.spend_for(jobs):,.2f}"
    if images != jobs:
        spend = f"at most ${plan.spend_for(images):,.2f} ({images:,} images)"
    return (
        f"{counted(jobs, 'job')}{source}: {pace}; {spend} for the provider "
        f"({images:,} × ${plan.price_per_image:g}), before Unified Billing's "
        f"~{CREDIT_FEE_PERCENT} % credit fee"
    )
