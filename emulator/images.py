"""The image URLs the emulator hands out, and the bytes behind them.

A URL carries everything needed to draw its image (size, seed, whether it is the broken HTML
kind), so the emulator stores nothing per image: a million generated images cost no memory, and a
URL stays valid across a restart, as an upstream signed link does for its lifetime.
"""

import hashlib
import re
from dataclasses import dataclass
from typing import Self

from starlette.concurrency import run_in_threadpool

from emulator.render import render_jpeg
from jobs.models import DEFAULT_MODEL, MODELS
from jobs.models.output_sizes import MAX_OUTPUT_PIXELS, MAX_OUTPUT_SIDE

#: where generated images are served: `/cdn/<model>/...`, mirroring upstream's
#: `.../seedream-4-0/<id>_0.jpeg`
CDN_PREFIX = "/cdn"
#: a seed's step from one image of a call to the next (odd, so the seeds of one call never meet)
_SEED_STEP = 0x9E3779B97F4A7C15
_SEED_MASK = (1 << 64) - 1
JPEG = "image/jpeg"
HTML = "text/html; charset=utf-8"
#: what a misconfigured CDN or a login wall serves in place of an image (the `non_image` fault)
HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>Access denied</title></head>"
    b"<body><h1>Access denied</h1><p>This object is not available.</p></body></html>"
)

#: applied with fullmatch (`$` would let a trailing newline through)
_SIZE = re.compile(r"(?P<width>\d{1,4})x(?P<height>\d{1,4})")
_NAME = re.compile(r"(?P<seed>[0-9a-f]{16})(?P<html>_html)?\.jpeg")


def seed_for_prompt(prompt: str, index: int = 0) -> int:
    """A stable seed from the prompt, so a prompt always draws the same picture; `index` is the
    image's place in its call's answer, so each image of one call is a distinct picture."""
    seed = int(hashlib.sha256(prompt.encode()).hexdigest()[:16], 16)
    return (seed + index * _SEED_STEP) & _SEED_MASK


def cdn_name(model: str) -> str:
    """The folder a model's images are served from: `bytedance/seedream-4.5` -> `seedream-4-5`."""
    return model.rpartition("/")[2].replace(".", "-")


#: the folder of every model's images
CDN_NAMES = frozenset(cdn_name(model) for model in MODELS)


@dataclass(frozen=True)
class ImageRef:
    """One generated image, as its URL path spells it."""

    width: int
    height: int
    seed: int
    #: serve an HTML page instead of the JPEG (the `non_image` fault)
    html: bool = False
    #: the model's folder (`cdn_name`)
    model: str = cdn_name(DEFAULT_MODEL)

    def path(self) -> str:
        """The URL path, e.g. `/cdn/seedream-4-0/2048x2048/0123456789abcdef.jpeg`."""
        suffix = "_html" if self.html else ""
        where = f"{CDN_PREFIX}/{self.model}/{self.width}x{self.height}"
        return f"{where}/{self.seed:016x}{suffix}.jpeg"

    @classmethod
    def parse(cls, model: str, size: str, name: str) -> Self | None:
        """The image a URL names, or None when the URL is not one this emulator made (nor one
        it would: no model's image is over MAX_OUTPUT_SIDE or MAX_OUTPUT_PIXELS)."""
        size_match, name_match = _SIZE.fullmatch(size), _NAME.fullmatch(name)
        if size_match is None or name_match is None or model not in CDN_NAMES:
            return None
        width, height = int(size_match["width"]), int(size_match["height"])
        if not (1 <= width <= MAX_OUTPUT_SIDE and 1 <= height <= MAX_OUTPUT_SIDE):
            return None
        if width * height > MAX_OUTPUT_PIXELS:
            return None
        seed, html = int(name_match["seed"], 16), name_match["html"] is not None
        return cls(width, height, seed, html=html, model=model)

    async def payload(self) -> tuple[bytes, str]:
        """The bytes and their media type; the JPEG is drawn in a worker thread, off the loop."""
        if self.html:
            return HTML_PAGE, HTML
        return await run_in_threadpool(render_jpeg, self.width, self.height, self.seed), JPEG
