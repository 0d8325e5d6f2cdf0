"""Where a scheduled batch may read its manifest and write its images: under configured roots.

A scheduled batch reaches a worker as a message on the broker, naming a manifest and an output.
Whoever can write to the broker can write such a message, so a worker checks both against roots
its operator configured (SEEDREAM_MANIFEST_ROOTS, SEEDREAM_OUTPUT_ROOTS) before it reads or
records anything: a forged message cannot make it read a file elsewhere on its disk, nor write
images somewhere else.

A root is a folder or `s3://bucket/prefix`. A local location is resolved first (symlinks
followed, `..` removed, a relative path taken from the working folder), so neither a `..` nor a
symlink leads out of a root. An S3 location is under a root when the bucket is the root's and its
key begins with the root's prefix at a `/` boundary; a key with an empty, `.` or `..` segment is
refused outright, since S3 servers and proxies disagree on what such a key means.
"""

from collections.abc import Sequence
from pathlib import Path

from worker.storage.s3 import split_s3_uri

S3_SCHEME = "s3://"
#: how much of a location a message quotes: it comes from the broker and may be any length
MAX_SHOWN_CHARS = 200
_ODD_SEGMENTS = frozenset({"", ".", ".."})


class OutsideRoots(ValueError):
    """A location lies outside every configured root; the message names it and the setting."""


def require_under_roots(
    location: str, roots: Sequence[str], setting: str, base: Path | None = None
) -> None:
    """Return if `location` is under one of `roots`, else raise OutsideRoots naming `setting`.

    `base` is the folder relative paths are taken from (default: the working folder).
    """
    folder = Path.cwd() if base is None else base
    if not any(_is_under(location, root, folder) for root in roots):
        listed = ", ".join(roots) or "none"
        raise OutsideRoots(
            f"{_shown(location)} is not under {setting} ({listed}): add its folder or "
            f"s3://bucket/prefix to {setting} on the workers if it should be allowed"
        )


def _is_under(location: str, root: str, base: Path) -> bool:
    if location.startswith(S3_SCHEME) != root.startswith(S3_SCHEME):
        return False
    if root.startswith(S3_SCHEME):
        return _s3_is_under(location, root)
    try:
        return (base / location).resolve().is_relative_to((base / root).resolve())
    except (ValueError, OSError, RuntimeError):  # a NUL byte, a symlink loop: nowhere we allow
        return False


def _s3_is_under(location: str, root: str) -> bool:
    bucket, key = split_s3_uri(location)
    root_bucket, prefix = split_s3_uri(root)
    key = key.removesuffix("/")  # `s3://bucket/images/` is the prefix `images`, as storage reads it
    segments = key.split("/") if key else []
    if not bucket or bucket != root_bucket or _ODD_SEGMENTS.intersection(segments):
        return False
    prefix_segments = [part for part in prefix.split("/") if part]
    return segments[: len(prefix_segments)] == prefix_segments


def _shown(location: str) -> str:
    """The location as a message quotes it: repr (no raw newline in a log), cut to a bound."""
    if len(location) <= MAX_SHOWN_CHARS:
        return repr(location)
    return f"{location[:MAX_SHOWN_CHARS]!r}... ({len(location)} characters)"
