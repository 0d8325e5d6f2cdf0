"""Job keys become object keys (`{prefix}/{batch}/{key}.jpg`): they must not escape the prefix."""

import re

from jobs.quoting import quoted

MAX_KEY_LENGTH = 200
#: the extensions a stored image may get (worker.images: JPEG, PNG, WebP), after `{key}.`
OUTPUT_EXTENSIONS = ("jpg", "png", "webp")
#: letters, digits, `._-` and `/` between segments (campaign/sku/variant); nothing a shell,
#: a URL or a file system treats specially. Applied with fullmatch: `$` would let a trailing
#: newline through ("a\n"), and a newline in an object key is a new line in every log and listing
_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*(/[A-Za-z0-9_][A-Za-z0-9._-]*)*")


def validate_key(key: str) -> str:
    """Return `key` if it is a safe relative object key, else raise ValueError saying why."""
    if len(key) <= MAX_KEY_LENGTH and _KEY.fullmatch(key):
        return key  # the pattern admits no empty key, no leading '/' and no '..' segment
    if not key:
        raise ValueError("must not be empty")
    if len(key) > MAX_KEY_LENGTH:
        raise ValueError(f"is {len(key)} characters; at most {MAX_KEY_LENGTH} are allowed")
    if key.startswith("/"):
        raise ValueError(f"{quoted(key)} is absolute; keys are relative to the output prefix")
    if ".." in key.split("/"):
        raise ValueError(f"{quoted(key)} contains '..'; keys must stay under the output prefix")
    raise ValueError(
        f"{quoted(key)} is not allowed: use letters, digits, '.', '_', '-' and '/' between "
        "segments, each segment starting with a letter, digit or '_'"
    )
