"""Draw the JPEG an emulated generation "produced": real bytes of the exact size, cheap to make.

The picture is a two-colour gradient with a few shapes, all chosen by the seed, so different prompts
give different bytes and the same prompt always the same ones. Everything is drawn by Pillow's C
code (no per-pixel Python), which keeps a 2048x2048 render and encode near 0.1 s. Called from a
worker thread: it holds no state and touches nothing shared.
"""

import io
import random

from PIL import Image, ImageDraw

JPEG_QUALITY = 85
SHAPES = 6

_Colour = tuple[int, int, int]


def render_jpeg(width: int, height: int, seed: int) -> bytes:
    """A `width` x `height` JPEG whose content is fixed by `seed`."""
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
