"""Campaign expansion speed: a product table × a matrix of axes through `seedream-batch expand`.

    .venv/bin/python -m bench.campaign_expansion [--jobs 1000000] [--combinations 12]

Writes a CSV of products and a campaign file (3 aspect ratios × 4 styles by default, a prompt
and an id template, a fixed size) to a temporary folder, runs `expand` as a user would, its
JSONL to a file, and prints the jobs a second it expanded (each one validated for the model, as
`run` would), its peak RSS, and whether it printed exactly one line per job. Nothing but the
CLI and the file system is involved: no broker, table or network.
"""

import argparse
import csv
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.process_stats import run_measured
from tests.support.processes import CLI, clean_env

TARGET_JOBS_PER_S = 50_000
TARGET_PEAK_RSS_MB = 300
_RATIOS = ["1:1", "9:16", "16:9", "4:3", "3:4", "3:2", "2:3", "21:9"]
_STYLES = ["photo", "watercolor", "line drawing", "isometric", "film", "pastel"]


@dataclass(frozen=True)
class Measured:
    jobs: int
    products: int
    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    #: lines of JSONL `expand` printed
    printed: int

    @property
    def jobs_per_s(self) -> float:
        return self.jobs / self.seconds


def write_campaign(folder: Path, products: int, ratios: int, styles: int) -> Path:
    with (folder / "products.csv").open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["sku", "name", "colour", "caption"])
        for n in range(products):
            writer.writerow([f"SKU-{n:07d}", f"product {n}", f"colour {n % 17}", f"caption {n}"])
    campaign = folder / "campaign.yaml"
    campaign.write_text(
        "data: products.csv\n"
        'prompt: "{name} in {colour}, {style}, studio light"\n'
        'id: "{sku}/{aspect_ratio}-{style}"\n'
        "vary:\n"
        f"  aspect_ratio: {_RATIOS[:ratios]}\n"
        f"  style: {_STYLES[:styles]}\n"
        "fixed:\n"
        "  size: 2K\n"
    )
    return campaign


def expand_once(folder: Path, campaign: Path, products: int, jobs: int) -> Measured:
    output = folder / "expanded.jsonl"
    with output.open("wb") as out:
        cost = run_measured([CLI, "expand", str(campaign)], clean_env(), folder, out)
    if cost.exit_code != 0:
        raise SystemExit(f"expand failed ({cost.exit_code}):\n{output.read_text()[-3000:]}")
    with output.open("rb") as lines:
        printed = sum(1 for line in lines if line.startswith(b"{"))
    return Measured(
        jobs, products, cost.seconds, cost.cpu_seconds, cost.peak_rss_bytes / 1024**2, printed
    )


def report(result: Measured) -> str:
    rows = [
        ("products × combinations", f"{result.products:,} × {result.jobs // result.products}", ""),
        ("jobs", f"{result.jobs:,}", ""),
        ("seconds", f"{result.seconds:.1f}", ""),
        ("jobs/s", f"{result.jobs_per_s:,.0f}", f"≥ {TARGET_JOBS_PER_S:,}"),
        ("CPU s (user + sys)", f"{result.cpu_seconds:.1f}", ""),
        ("peak RSS MB", f"{result.peak_rss_mb:.0f}", f"≤ {TARGET_PEAK_RSS_MB}"),
        ("one line per job", str(result.printed == result.jobs), "True"),
    ]
    lines = ["| measure | value | target |", "|---|---:|---|"]
    lines += [f"| {name} | {value} | {target} |" for name, value, target in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--ratios", type=int, default=3, choices=range(1, len(_RATIOS) + 1))
    parser.add_argument("--styles", type=int, default=4, choices=range(1, len(_STYLES) + 1))
    args = parser.parse_args()
    combinations = args.ratios * args.styles
    products = -(-args.jobs // combinations)
    with tempfile.TemporaryDirectory(prefix="bench-campaign-") as tmp:
        folder = Path(tmp)
        campaign = write_campaign(folder, products, args.ratios, args.styles)
        print(f"expanding {products:,} products × {combinations} combinations", file=sys.stderr)
        print(report(expand_once(folder, campaign, products, products * combinations)))


if __name__ == "__main__":
    main()
