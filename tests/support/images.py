"""Real image bytes made on the spot, for tests that need something Pillow can open."""

import io
from tempfile import SpooledTemporaryFile

from PIL import Image

from worker.spool import open_spool


def image_bytes(fmt: str = "JPEG", size: tuple[int, int] = (40, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 40, 10)).save(buffer, fmt)
    return buffer.getvalue()


def spooled(data: bytes, memory_bytes: int = 1024 * 1024) -> "SpooledTemporaryFile[bytes]":
    """`data` in a spool as the pipeline holds it: in memory, or in a temp file past
    `memory_bytes`."""
    spool = open_spool(memory_bytes)
    spool.write(data)
    return spool
