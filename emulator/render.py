"""Draw the JPEG an emulated generation "produced": real bytes of the exact size, cheap to make.

The picture is a two-colour gradient with a few shapes, all chosen by the seed, so different prompts
give different bytes and the same prompt always the same ones. Everything is drawn by Pillow's C
code (no per-pixel Python), which keeps a 2048x2048 render and encode near 0.1 s. Called from a
worker thread.

Renders are cached: drawing costs ~12 ms for 1K and ~44 ms for 2K of CPU on the same machine as
the workers under test, which would dominate a benchmark of the product's own overhead. A
benchmark repeats a few prompts (under distinct job keys), so the few (width, height, seed)
pictures are drawn once and then served from memory, and what it measures is the worker.
"""

import functools
import io
import random

from PIL import Image, ImageDraw

JPEG_QUALITY = 85
SHAPES = 6

#: distinct pictures kept: a 2K JPEG is ~110 KB, a 4K one under 0.5 MB, so at most ~30 MB
RENDER_CACHE_SIZE = 64

_Colour = tuple[int, int, int]


@functools.lru_cache(maxsize=RENDER_CACHE_SIZE)
def render_jpeg(width: int, height: int, seed: int) -> bytes:
    """A `width` x `height` JPEG whose content is fixed by `seed`, drawn once while it is among
    the last RENDER_CACHE_SIZE asked for (the bytes are immutable, so sharing them is safe)."""
    return draw_jpeg(width, height, seed)


def draw_jpeg(width: int, height: int, seed: int) -> bytes:
    """Draw and encode a `width` x `height` JPEG whose content is fixed by `seed`."""
    rng = random.Random(seed)
    picture = _gradient(width, height, _colour(rng), _colour(rng), vertical=rng.random() < 0.5)
    draw = ImageDraw.Draw(picture)
    for _ in range(SHAPES):
        box = _box(rng, width, height)
        if rng.random() < 0.5:
            draw.ellipse(box, fill=_colour(rng))
        else:
            draw.rectangle(box, fill=_colour(rng))
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def _gradient(
    width: int, height: int, start: _Colour, end: _Colour, *, vertical: bool
) -> Image.Image:
    """Blend two flat colours through Pillow's built-in 256-step ramp, scaled to the canvas."""
    ramp = Image.linear_gradient("L")
    if not vertical:
        ramp = ramp.transpose(Image.Transpose.ROTATE_90)
    mask = ramp.resize((width, height))
    return Image.composite(
        Image.new("RGB", (width, height), end), Image.new("RGB", (width, height), start), mask
    )


def _box(rng: random.Random, width: int, height: int) -> tuple[int, int, int, int]:
    left, right = sorted(rng.randrange(width) for _ in range(2))
    top, bottom = sorted(rng.randrange(height) for _ in range(2))
    return left, top, right, bottom


def _colour(rng: random.Random) -> _Colour:
    return rng.randrange(256), rng.randrange(256), rng.randrange(256)
