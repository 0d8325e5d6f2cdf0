"""What the emulator is set to do: one validated object, from the CLI or `POST /__emulator/config`.

A pydantic model rather than a dataclass because the control endpoint takes partial JSON at run
time and must refuse a bad value (a probability of 2, a limit of "fast") with a message naming the
field, exactly as the CLI does.
"""

from collections.abc import Mapping
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_serializer, field_validator

from emulator.faults import FaultKind, RateLimitAnswer
from emulator.responses import ResponseForm
from jobs.models import MODELS, model_named
from jobs.rates import RateLimit


class EmulatorConfig(BaseModel):
    """Everything that shapes the emulator's answers. Defaults: fast, unlimited, no faults."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    account_id: str = "acct"
    #: a SecretStr so that no dump, repr or log line shows it
    api_token: SecretStr = SecretStr("tok")
    #: the models served (others get 400 / 5007 "No such model"); default every one this
    #: version supports
    models: tuple[str, ...] = Field(default=tuple(MODELS), min_length=1)
    #: seconds every accepted call waits before answering (real calls take 10-60 s)
    latency_s: float = Field(default=0.0, ge=0)
    #: up to this many more seconds, drawn uniformly per call
    jitter_s: float = Field(default=0.0, ge=0)
    #: per gateway; None = no limit
    rate_limit: RateLimit | None = None
    #: how that limit refuses a call: 429/3040 (default), or 401/2009 as a real AI Gateway does
    rate_limit_answer: RateLimitAnswer = RateLimitAnswer.capacity
    #: probability of each fault kind per accepted call; together at most 1
    faults: dict[FaultKind, float] = Field(default_factory=dict)
    #: how long a `hang` fault stays silent before its 504
    hang_s: float = Field(default=30.0, ge=0)
    response_form: ResponseForm = ResponseForm.url
    #: seeds the fault and jitter draws; None = different every run
    seed: int | None = None
    #: the AI Gateways the account has (the account API lists and shows them); None = any gateway
    #: asked for exists, as the calls themselves accept any
    gateways: tuple[str, ...] | None = None
    #: whether the token may read AI Gateway (False plays a token without that permission)
    gateway_read: bool = True

    @field_validator("rate_limit", mode="before")
    @classmethod
    def _parse_rate_limit(cls, value: Any) -> Any:
        return RateLimit.parse(value) if isinstance(value, str) else value

    @field_validator("gateways", mode="before")
    @classmethod
    def _parse_gateways(cls, value: Any) -> Any:
        """`"a,b"` → ("a", "b"); `"any"` → None (every gateway exists)."""
        if not isinstance(value, str):
            return value
        if value.strip().lower() == "any":
            return None
        return tuple(part.strip() for part in value.split(",") if part.strip())

    @field_serializer("rate_limit")
    def _rate_limit_text(self, rate_limit: RateLimit | None) -> str | None:
        return None if rate_limit is None else str(rate_limit)

    @field_validator("models")
    @classmethod
    def _supported_models(cls, models: tuple[str, ...]) -> tuple[str, ...]:
        for model in models:
            model_named(model)  # UnknownModel (a ValueError) lists the supported names
        return models

    @field_validator("faults")
    @classmethod
    def _faults_are_probabilities(cls, faults: dict[FaultKind, float]) -> dict[FaultKind, float]:
        for kind, chance in faults.items():
            if not 0.0 <= chance <= 1.0:
                raise ValueError(f"{kind}: probability {chance} is not between 0 and 1")
        if sum(faults.values()) > 1.0 + 1e-9:
            raise ValueError(
                f"the probabilities add up to {sum(faults.values()):g}; at most 1 is allowed"
            )
        return faults

    def updated(self, changes: Mapping[str, Any]) -> Self:
        """A copy with `changes` applied and validated as a whole (unknown names are refused)."""
        current = {name: getattr(self, name) for name in type(self).model_fields}
        return self.model_validate({**current, **changes})

    def public(self) -> dict[str, Any]:
        """What `GET /__emulator/config` shows: everything but the token."""
        return self.model_dump(mode="json", exclude={"api_token"})

    def summary(self) -> str:
        """One human line for the start-up message."""
        faults = ", ".join(f"{kind}={chance:g}" for kind, chance in self.faults.items()) or "none"
        latency = f"{self.latency_s:g}s" + (f"+0..{self.jitter_s:g}s" if self.jitter_s else "")
        limit = f"rate limit {self.rate_limit} per gateway" if self.rate_limit else "no rate limit"
        return (
            f"account {self.account_id}, models {', '.join(self.models)}, latency {latency}, "
            f"{limit}, "
            f"faults {faults}, response form {self.response_form}"
        )
