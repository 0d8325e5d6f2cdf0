"""A local stand-in for Cloudflare Workers AI serving `bytedance/seedream-4.0`.

It speaks docs/cloudflare-api.md over real HTTP, with configurable latency, a per-gateway rate
limit, injected faults and every documented success form, and it serves the images it returns.
The demo, the tests and the benchmarks run against it; nothing else in the product knows it is
not Cloudflare.
"""

from emulator.app import create_app
from emulator.config import EmulatorConfig
from emulator.faults import FaultKind
from emulator.responses import ResponseForm
from jobs.rates import RateLimit

__all__ = ["EmulatorConfig", "FaultKind", "RateLimit", "ResponseForm", "create_app"]
