"""What a refusal means, judged with the fleet's record of the gateway: one rule, in one place.

AI Gateway answers an over-rate call with 401 / 2009 "Unauthorized", the same code as a bad
token, and a spent gateway with a 429 like any rate limit. Neither answer says which it is; what
the fleet has seen of the gateway does. Every worker writes each gateway's last success and the
start of its current streak of refusals into the limiter's backend (the gateway's Redis hash, or
the in-process state), so a worker that just started in a healthy fleet judges with the fleet's
history, not its own empty one:

    refusal              fleet's record of the gateway                   raised
    2009                 no success in the last `recent_success_s`       AuthError (bad token)
    2009                 refusals only, for longer than `stuck_after_s`  AuthError (bad token)
    2009                 otherwise (calls recently succeeded)            RateLimited, cool down
    429 / 3040           refusals only, for longer than `stuck_after_s`  QuotaExceeded (stuck)
    429                  otherwise                                       RateLimited, cool down
    3040                 otherwise                                       RateLimited, brief
                                                                         cool-down, rate kept
    429 spend limit      (read by worker.responses)                      QuotaExceeded

AuthError and QuotaExceeded pause the batch, so a gateway that refuses everything stops the
batch with a message naming the gateway instead of failing its jobs one by one.
"""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Self

from jobs.errors import AuthError, JobError, QuotaExceeded, RateLimited
from jobs.gateway_headers import DEFAULT_GATEWAY
from worker.limiter import Limiter, Permit
from worker.limiter.backend import GatewayRecord
from worker.limiter.pacing import MICROS

#: the code AI Gateway answers both a bad token and an over-rate call with
UNAUTHORIZED_CODE = 2009
#: the provider's own "capacity temporarily exceeded": not about our rate, never lowers it
CAPACITY_CODE = 3040
#: a 2009 with no success for this many of the limit's windows is the token (5 min at
#: Cloudflare's 60 s): a fleet paced even at the limiter's floor (1/16 of the rate) succeeds
#: several times a window, so five windows of silence mean nothing gets through at all
RECENT_SUCCESS_WINDOWS = 5
#: refusals with no success between for this many windows mean the gateway is stuck (3 min at
#: 60 s): a fixed-window gateway limit may refuse a whole window once, but after three, with
#: the rate already lowered, it is a spend limit, a gateway limit far below the configured one,
#: or a revoked token, none of which another attempt will fix
STUCK_WINDOWS = 3
#: each process writes a gateway's success at most this often: a Redis round trip on every
#: call would double the limiter's traffic, and the rule's spans are minutes
NOTE_SUCCESS_EVERY_S = 1.0


@dataclass(frozen=True)
class Thresholds:
    """The spans the rule judges by, in seconds."""

    recent_success_s: float
    stuck_after_s: float

    @classmethod
    def for_window(cls, window_s: float) -> Self:
        """The spans for a limit of this window (SEEDREAM_RATE_LIMIT's; 60 s when unset)."""
        return cls(RECENT_SUCCESS_WINDOWS * window_s, STUCK_WINDOWS * window_s)


def judge(error: JobError, record: GatewayRecord, thresholds: Thresholds) -> type[JobError]:
    """The class a refusal (a RateLimited, or an AuthError carrying 2009) really is."""
    streak_s = (record.now_us - record.refused_since_us) / MICROS
    stuck = record.refused_since_us > 0 and streak_s > thresholds.stuck_after_s
    if error.provider_code == UNAUTHORIZED_CODE and isinstance(error, AuthError):
        silent_s = (record.now_us - record.succeeded_at_us) / MICROS
        never = record.succeeded_at_us == 0
        if never or silent_s > thresholds.recent_success_s or stuck:
            return AuthError
        return RateLimited
    return QuotaExceeded if stuck else RateLimited


class GatewayHealth:
    """Notes successes (throttled) and judges refusals, for one process's LimitedClient."""

    def __init__(
        self,
        limiter: Limiter,
        thresholds: Thresholds | None = None,
        *,
        note_every_s: float = NOTE_SUCCESS_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limiter = limiter
        self._thresholds = thresholds or Thresholds.for_window(limiter.window_s)
        self._note_every_s = note_every_s
        self._clock = clock
        self._noted: dict[str | None, float] = {}
        self._lock = threading.Lock()

    def succeeded(self, gateway: str | None) -> None:
        """Record the success fleet-wide, unless this process did so under a second ago."""
        now = self._clock()
        with self._lock:
            last = self._noted.get(gateway)
            if last is not None and now - last < self._note_every_s:
                return
            self._noted[gateway] = now
        self._limiter.note_success(gateway)

    def refused(self, permit: Permit, error: JobError) -> JobError:
        """The error to raise for `error`, after cooling the gateway down when it is a rate
        limit; names the gateway in what pauses the batch."""
        is_2009 = isinstance(error, AuthError) and error.provider_code == UNAUTHORIZED_CODE
        name = permit.gateway or DEFAULT_GATEWAY
        if isinstance(error, QuotaExceeded):
            return _named(QuotaExceeded, f"gateway {name}: {error.message}", error)
        if not (is_2009 or isinstance(error, RateLimited)):
            return error
        with self._lock:
            self._noted.pop(permit.gateway, None)  # the next success ends the streak at once
        record = self._limiter.note_refusal(permit.gateway)
        verdict = judge(error, record, self._thresholds)
        if verdict is RateLimited:
            lowers = error.provider_code != CAPACITY_CODE
            self._limiter.rate_limited(permit, error.retry_after, lowers=lowers)
            return error if isinstance(error, RateLimited) else _named(RateLimited, "", error)
        return _named(verdict, self._explain(verdict, name, record, error), error)

    def _explain(
        self, verdict: type[JobError], name: str, record: GatewayRecord, error: JobError
    ) -> str:
        streak_s = (record.now_us - record.refused_since_us) / MICROS
        if verdict is QuotaExceeded:
            return (
                f"gateway {name} has refused every call for {streak_s:.0f} s with no success: "
                "a spend limit, or a rate limit set on the gateway below SEEDREAM_RATE_LIMIT "
                f"(last: {error.message})"
            )
        return (
            f"gateway {name} refused the token (2009) with no call succeeding for over "
            f"{self._thresholds.recent_success_s:.0f} s, or {streak_s:.0f} s of refusals: "
            f"a bad or revoked CLOUDFLARE_API_TOKEN ({error.message})"
        )


def _named(error_class: type[JobError], message: str, cause: JobError) -> JobError:
    """`error_class` carrying `cause`'s message (unless given one), wait and code."""
    return error_class(
        message or cause.message,
        retry_after=cause.retry_after,
        provider_code=cause.provider_code,
    )
