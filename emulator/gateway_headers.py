"""The AI Gateway's headers: those a call may send (gateway, metadata, caching, retries) and the
ids every answer carries, success or failure, as the gateway's own answers do.

`cf-aig-metadata` is a JSON object of at most MAX_METADATA_ENTRIES entries whose values are
strings, numbers or booleans (Cloudflare's custom metadata). Cloudflare documents the limit but
not how a call breaking it is answered; the emulator refuses it with a 400 `AiGatewayError`
(INVALID_METADATA_CODE is the emulator's own), so a client that sends a malformed or oversized
header finds out in tests instead of losing its metadata silently in production.
"""

import json
import uuid
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import Headers

from jobs.gateway_headers import (
    DEFAULT_GATEWAY,
    GATEWAY_HEADER,
    LOG_ID_HEADER,
    MAX_ATTEMPTS_HEADER,
    MAX_METADATA_ENTRIES,
    METADATA_HEADER,
    REQUEST_ID_HEADER,
    SKIP_CACHE_HEADER,
)

#: the `internalCode` of the emulator's refusal of a bad `cf-aig-metadata` (Cloudflare names none)
INVALID_METADATA_CODE = 2020


@dataclass(frozen=True)
class GatewayHeaders:
    """What a call's gateway headers asked for; `problem` says why its metadata is refused."""

    gateway: str
    metadata: dict[str, Any] | None
    skip_cache: bool
    max_attempts: int | None
    problem: str | None = None


def read_gateway_headers(headers: Headers) -> GatewayHeaders:
    """The gateway headers of a call, its metadata checked (a bad one is kept as None)."""
    metadata, problem = _metadata(headers.get(METADATA_HEADER))
    attempts = headers.get(MAX_ATTEMPTS_HEADER, "").strip()
    return GatewayHeaders(
        gateway=headers.get(GATEWAY_HEADER) or DEFAULT_GATEWAY,
        metadata=metadata,
        skip_cache=headers.get(SKIP_CACHE_HEADER, "").strip().lower() == "true",
        max_attempts=int(attempts) if attempts.isdigit() else None,
        problem=problem,
    )


def answer_ids() -> dict[str, str]:
    """The ids an answer carries: a fresh log id (the gateway's log entry) and request id."""
    return {LOG_ID_HEADER: uuid.uuid4().hex, REQUEST_ID_HEADER: uuid.uuid4().hex}


def _metadata(text: str | None) -> tuple[dict[str, Any] | None, str | None]:
    if text is None:
        return None, None
    try:
        metadata = json.loads(text)
    except ValueError:
        return None, f"{METADATA_HEADER} is not JSON"
    if not isinstance(metadata, dict):
        return None, f"{METADATA_HEADER} must be a JSON object"
    if len(metadata) > MAX_METADATA_ENTRIES:
        return None, (
            f"{METADATA_HEADER} has {len(metadata)} entries; at most {MAX_METADATA_ENTRIES} "
            "are allowed"
        )
    nested = [name for name, value in metadata.items() if not isinstance(value, str | int | float)]
    if nested:
        return None, (f"{METADATA_HEADER} entry {nested[0]!r} is not a string, number or boolean")
    return metadata, None
