"""What `run` and `submit` take from their command line: the options both declare, and the one
object they are gathered into."""

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from jobs.records import Share

ManifestArg = Annotated[
    Path,
    typer.Argument(
        help="JSONL or CSV manifest, one image job per row, or a campaign file (.yaml)."
    ),
]
OutOption = Annotated[
    str | None,
    typer.Option("--out", help="Folder or s3://bucket/prefix (default SEEDREAM_OUTPUT)."),
]
BatchOption = Annotated[
    str | None,
    typer.Option(
        "--batch",
        help="Batch name; a batch of that name made from the same manifest is resumed, one made "
        "from another manifest is refused.",
    ),
]
MaxImagesOption = Annotated[
    int | None,
    typer.Option("--max-images", min=0, help="Pay for at most this many images, fleet-wide."),
]
PreflightOption = Annotated[
    bool,
    typer.Option(
        "--preflight/--no-preflight",
        help="First verify the token with Cloudflare and write a probe object to the output "
        "(nothing is recorded if either fails).",
    ),
]
MaxCostOption = Annotated[
    float | None,
    typer.Option(
        "--max-cost",
        min=0,
        help="Spend at most this many USD at the model's price (SEEDREAM_PRICES); an estimate "
        "of provider spend, not of the invoice. A batch whose estimate is over it is refused "
        "unless --allow-partial.",
    ),
]
AllowPartialOption = Annotated[
    bool,
    typer.Option(
        "--allow-partial",
        help="With --max-cost below the estimate: start anyway, and pause once the budget is "
        "spent.",
    ),
]
FreshOption = Annotated[
    bool,
    typer.Option(
        "--fresh",
        help="Pay for every image, even where an image of the same input is stored already "
        "(by default such a job copies it: no call, no cost).",
    ),
]
DryRunOption = Annotated[
    bool,
    typer.Option(
        "--dry-run",
        help="Check every row and print the jobs, images, cost and time; record, send and call "
        "nothing.",
    ),
]


@dataclass(frozen=True)
class SubmitOptions:
    """What `run` and `submit` both take from their command line."""

    manifest: Path
    out: str | None
    batch: str | None
    strict: bool
    rejects: Path | None
    max_images: int | None
    max_cost: float | None
    model: str | None
    preflight: bool
    share: Share | None
    variants: int | None
    allow_partial: bool
    fresh: bool
