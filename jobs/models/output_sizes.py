"""The size of a generated image, from a size tier and an aspect ratio: one rule for every
Seedream model, so 4.0 and 4.5 (and the emulator that draws for them) never disagree.

A tier scales Seedream's own recommended 2K size for the aspect ratio (1K halves it, 4K doubles
it); `match_input_image` keeps the input image's ratio at the 2K tier's area. A model may cap the
long side (4.0 never goes past 4096 px); 4.5's 4K is uncapped, as its own 4K sizes are.
"""

from jobs.models.input_rules import AspectRatio

#: Seedream's own recommended 2K sizes, shared by 4.0 and 4.5
RECOMMENDED_2K_SIZES: dict[AspectRatio, tuple[int, int]] = {
    AspectRatio.square: (2048, 2048),
    AspectRatio.landscape_4_3: (2304, 1728),
    AspectRatio.portrait_3_4: (1728, 2304),
    AspectRatio.widescreen_16_9: (2560, 1440),
    AspectRatio.tall_9_16: (1440, 2560),
    AspectRatio.landscape_3_2: (2496, 1664),
    AspectRatio.portrait_2_3: (1664, 2496),
    AspectRatio.cinema_21_9: (3024, 1296),
}
#: The longest side an image of any model here may have: 4.5's 4K matching a 1:3 input image is
#: 2 x 2048 x sqrt(3) ~ 7094 px, its 21:9 one 6048 px. The emulator refuses image URLs past it, so
#: a made-up URL cannot ask it to draw a gigapixel.
MAX_OUTPUT_SIDE = 8192
#: The most pixels an image of any model here may have: a 4K tier is 4 x 2048² (4096²) whatever
#: the ratio, and rounding each side of a matched ratio adds at most half a row and a column.
MAX_OUTPUT_PIXELS = 4096 * 4096 + MAX_OUTPUT_SIDE


def tier_dimensions(
    scale: float,
    ratio: AspectRatio,
    input_size: tuple[int, int] | None = None,
    *,
    max_side: int | None = None,
) -> tuple[int, int]:
    """The width and height of an image of `ratio` at a tier `scale` times the 2K one.

    `match_input_image` takes `input_size`'s ratio (the input image's, when known; square
    otherwise). With `max_side`, the image is shrunk, ratio kept, until its long side fits.
    """
    if ratio is AspectRatio.match_input_image:
        base_w, base_h = _match_ratio(input_size or (1, 1))
    else:
        base_w, base_h = RECOMMENDED_2K_SIZES[ratio]
    width, height = base_w * scale, base_h * scale
    shrink = 1.0 if max_side is None else min(1.0, max_side / max(width, height))
    return round(width * shrink), round(height * shrink)


def default_ratio(ratio: AspectRatio | None, has_input_image: bool) -> AspectRatio:
    """The ratio a call that names none gets: the input image's when it has one, else square."""
    if ratio is not None:
        return ratio
    return AspectRatio.match_input_image if has_input_image else AspectRatio.square


def _match_ratio(input_size: tuple[int, int]) -> tuple[float, float]:
    """A 2K-tier size (area 2048²) with the input image's aspect ratio."""
    in_w, in_h = input_size
    area = RECOMMENDED_2K_SIZES[AspectRatio.square][0] ** 2
    height = (area * in_h / in_w) ** 0.5
    return height * in_w / in_h, height
