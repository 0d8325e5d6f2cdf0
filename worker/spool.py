"""Where one job's image waits between download and upload: memory while small, a temp file past
a threshold.

A worker process has hundreds of jobs in flight, each holding one image while it is checked and
stored. Held whole in memory, a process would grow with image size times threads (500 threads of
4K images is gigabytes). A spool keeps the common image (a 1K or 2K JPEG of a few hundred KB) in
memory and moves a larger one to a temp file, so memory is bounded by threads times the threshold
whatever the images weigh. The temp file is anonymous on Linux (no name in the folder), so even a
killed worker leaves nothing on disk; `with` closes it whatever happens.
"""

import tempfile
from typing import IO

#: what one read or write of a spooled image moves at a time
CHUNK_BYTES = 64 * 1024

#: a spooled image, read and written as a binary file
ImageFile = IO[bytes]


def open_spool(memory_bytes: int) -> "tempfile.SpooledTemporaryFile[bytes]":
    """An empty binary spool kept in memory up to `memory_bytes`, then moved to a temp file."""
    if memory_bytes <= 0:
        # SpooledTemporaryFile reads 0 as "never roll over": the opposite of what 0 would mean
        raise ValueError(f"a spool needs a positive memory threshold, got {memory_bytes}")
    return tempfile.SpooledTemporaryFile(max_size=memory_bytes, mode="w+b", prefix="seedream-")
