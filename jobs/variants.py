"""Variants: several images of one manifest row, each its own call.

A row asks for N images with a `variants` column, or a whole batch asks it of every row
(`--variants N`, a schedule's `variants:`; a row's own column wins). One is the row as it always
was: one job keyed by its `id`. N above one makes N jobs keyed `{id}/1` ... `{id}/N`, each a call
of its own with the same input (Seedream takes no seed: every call draws a new image), each
billed, stored at `{batch}/{id}/{n}.jpg`, and exported with its `variant` number, so a dataset
gets N different images of one prompt and a re-run finds each under the same key.

Seedream 4.5's `max_images` is another thing: one call asked for up to that many images of one
sequence (the model decides how many with `auto`). The two multiply: `variants: 3` with
`max_images: 2` is three calls of up to two images each, stored as `{id}/{n}/{i}.jpg`.
"""

from jobs.keys import MAX_KEY_LENGTH
from jobs.quoting import quoted
from jobs.spec import JobSpec

#: The most images one row may ask for. Each is a paid call; a dataset wants a handful of images
#: a prompt and a marketing matrix a few per placement. A hundred is far past both, and a typo of
#: an extra zero in a million-row manifest is refused instead of paid for.
MAX_VARIANTS = 100


def variant_key(key: str, variant: int) -> str:
    """The key of variant `variant` (from 1) of the row whose key is `key`."""
    return f"{key}/{variant}"


def variant_key_too_long(key: str, variants: int) -> str | None:
    """Why `key` is too long to be given `variants` variants, if it is: its longest variant key
    would pass MAX_KEY_LENGTH."""
    if variants == 1 or len(longest := variant_key(key, variants)) <= MAX_KEY_LENGTH:
        return None
    return (
        f"with {variants} variants its keys run to {len(longest)} characters "
        f"({quoted(longest)}); at most {MAX_KEY_LENGTH} are allowed: shorten the id"
    )


def variants_of(spec: JobSpec, variants: int) -> list[JobSpec]:
    """The jobs of a row asking for `variants` images: the row's own job when one."""
    if variants == 1:
        return [spec]
    return [
        JobSpec(variant_key(spec.key, n), spec.line, spec.input, spec.metadata, variant=n)
        for n in range(1, variants + 1)
    ]
