"""Real image bytes made on the spot, for tests that need something Pillow can open."""

import io

from PIL import Image


def image_bytes(fmt: str = "JPEG", size: tuple[int, int] = (40, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 40, 10)).save(buffer, fmt)
    return buffer.getvalue()
