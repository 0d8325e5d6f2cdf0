"""Naming batches: a user's `--batch NAME`, or one made from the manifest's name and the time."""

import re
import secrets
from datetime import UTC, datetime
from pathlib import Path

#: batch ids are one path segment of every object key, so they are held to a narrow alphabet
_BATCH_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,99}$")


def validate_batch_id(batch_id: str) -> str:
    """`batch_id` if it can be a key segment, else ValueError saying what is allowed."""
    if not _BATCH_ID.match(batch_id):
        raise ValueError(
            f"batch name {batch_id!r} is not allowed: use 1-100 letters, digits, '.', '_' or '-', "
            "starting with a letter, digit or '_'"
        )
    return batch_id


def new_batch_id(manifest: Path) -> str:
    """`{manifest stem}-{UTC time}-{4 hex}`: readable, sortable, unique without a lookup."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", manifest.stem).strip("-_")[:40] or "batch"
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return f"{stem}-{stamp}-{secrets.token_hex(2)}"
