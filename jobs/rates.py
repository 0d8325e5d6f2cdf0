"""A rate limit as people write it, `200/60s`: parsed once, for the settings and the emulator alike.

The worker's limiter and the emulator's enforcement read the same text the same way, so a limit
configured on both sides means the same thing on both.
"""

import re
from typing import Self

from pydantic import BaseModel, ConfigDict, Field

_RATE = re.compile(r"^\s*(?P<count>\d+)\s*/\s*(?P<window>\d+(?:\.\d+)?)\s*s?\s*$")
_NO_LIMIT = {"", "none", "off", "unlimited"}


class RateLimit(BaseModel):
    """At most `count` calls in any `window_s` seconds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    count: int = Field(gt=0)
    window_s: float = Field(gt=0)

    @classmethod
    def parse(cls, text: str) -> Self | None:
        """`"600/60s"` (or `"600/60"`) → a limit; `"none"` → None. Raises ValueError otherwise."""
        if text.strip().lower() in _NO_LIMIT:
            return None
        match = _RATE.match(text)
        if match is None:
            raise ValueError(
                f"{text!r} is not a rate limit: write COUNT/SECONDS, e.g. 600/60s, or none"
            )
        return cls(count=int(match["count"]), window_s=float(match["window"]))

    def per_second(self, gateways: int = 1) -> float:
        """The calls a second this limit allows over `gateways`, each holding it on its own."""
        return max(gateways, 1) * self.count / self.window_s

    def __str__(self) -> str:
        return f"{self.count}/{self.window_s:g}s"
