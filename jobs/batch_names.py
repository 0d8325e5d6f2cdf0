"""Naming batches: a user's `--batch NAME`, one made from the manifest's name and the time, and
the names schedules make. Here in `jobs/` because a schedule (`jobs.schedules`), which beat and the
workers read, checks its names by the same rule as `--batch`."""

import re
import secrets
from datetime import UTC, datetime
from pathlib import Path

from jobs.quoting import quoted

#: the longest batch or schedule name: a readable path segment, well under any storage limit
MAX_NAME_CHARS = 100
#: batch and schedule names are one path segment of every object key, so they are held to a
#: narrow alphabet. Applied with fullmatch: `$` would let a trailing newline through ("nl\n"),
#: which passes here and then fails at storage after the image is paid for
_NAME = re.compile(rf"[A-Za-z0-9_][A-Za-z0-9._-]{{0,{MAX_NAME_CHARS - 1}}}")


def validate_name(name: str, what: str = "batch name") -> str:
    """`name` if it can be a key segment, else ValueError naming `what` and what is allowed.

    The one check for every name that becomes a key segment: `--batch`, a schedule's `name`, and
    the batch names a schedule's template makes (checked when the file is read and again when a
    scheduled run submits them).
    """
    if not _NAME.fullmatch(name):
        raise ValueError(
            f"{what} {quoted(name)} is not allowed: use 1-{MAX_NAME_CHARS} letters, digits, '.', "
            "'_' or '-', starting with a letter, digit or '_'"
        )
    return name


def new_batch_id(manifest: Path) -> str:
    """`{manifest stem}-{UTC time}-{4 hex}`: readable, sortable, unique without a lookup."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", manifest.stem).strip("-_")[:40] or "batch"
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return f"{stem}-{stamp}-{secrets.token_hex(2)}"
