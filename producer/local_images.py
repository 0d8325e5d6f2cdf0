"""A manifest's `image` given as a file path: read from the manifest's own folder, sent inline.

A manifest is often written by someone else (a spreadsheet, a script, a colleague), so the path in
it is not trusted: only a regular file under the folder that holds the manifest is read, after
symlinks are resolved, so `../../etc/passwd`, `/home/me/.ssh/id_rsa` or a symlink pointing out of
the folder are refused before a byte is read. The file must be a JPEG or PNG of at most
MAX_INPUT_IMAGE_BYTES (the upstream limits); it becomes a `data:image/...;base64,` URI, which is
what the results table stores and the API receives, so no worker ever reads a local file.

This is the producer's business alone: the model's input (`jobs.models`; also run by the
worker and the emulator) accepts only URLs and data URIs and never touches the file system.
"""

import base64
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path

from jobs.models.input_rules import MAX_INPUT_IMAGE_BYTES, input_image_type, open_input_image
from jobs.quoting import quoted

#: a value that names a scheme (`https:`, `data:`, `ftp:`) is a URI, for the model's input to judge;
#: anything else is a path relative to the manifest's folder
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_ALLOWED = (
    f"a JPEG or PNG file of at most {MAX_INPUT_IMAGE_BYTES // (1024 * 1024)} MB inside the "
    "manifest's folder"
)


class LocalImageError(ValueError):
    """The path cannot be used; the message names the path and what is allowed."""


def is_local_path(value: str) -> bool:
    """True when an `image` value is a file path rather than a URI (or nothing at all)."""
    return bool(value.strip()) and not _SCHEME.match(value)


def local_image_as_data_uri(value: str, folder: Path) -> str:
    """The image file `value` names, under `folder`, as a base64 data URI.

    Raises LocalImageError when the path leaves the folder (`..`, an absolute path elsewhere, a
    symlink out), is not a regular file, is missing, too large, or not a JPEG/PNG that meets the
    upstream limits.
    """
    shown = quoted(value)

    def refuse(problem: str) -> LocalImageError:
        return LocalImageError(f"{shown} {problem}; use {_ALLOWED}")

    if "\x00" in value:
        raise refuse("contains a NUL character")
    root = folder.resolve()
    target = (root / value).resolve()
    if not target.is_relative_to(root):
        raise refuse("is outside the manifest's folder (after following links)")
    data = _read_regular_file(target, refuse)
    kind = input_image_type(data)
    if kind is None:
        raise refuse("is not a JPEG or PNG image")
    try:
        open_input_image(data)
    except ValueError as exc:
        raise refuse(f"cannot be sent: {exc}") from None
    return f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"


def _read_regular_file(path: Path, refuse: Callable[[str], LocalImageError]) -> bytes:
    """The bytes of the regular file at `path` (already resolved: no link left in it), at most
    MAX_INPUT_IMAGE_BYTES of them.

    Opened without following a link and without blocking (a FIFO planted there must not hang the
    producer), then checked through the open descriptor, so what is checked is what is read.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        raise refuse("does not exist") from None
    except OSError as exc:
        raise refuse(f"cannot be read ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise refuse("is a directory")
        if not stat.S_ISREG(info.st_mode):
            raise refuse("is not a regular file")
        if info.st_size > MAX_INPUT_IMAGE_BYTES:
            raise refuse(f"is {info.st_size} bytes")
        with os.fdopen(fd, "rb", closefd=False) as file:
            data = file.read(MAX_INPUT_IMAGE_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_INPUT_IMAGE_BYTES:
        raise refuse(f"is over {MAX_INPUT_IMAGE_BYTES} bytes")
    return data
