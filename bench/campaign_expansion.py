"""Campaign expansion speed: a product table × a matrix of axes through `seedream-batch expand`
and `run --dry-run`.

    .venv/bin/python -m bench.campaign_expansion [--jobs 1000000] [--ratios 3] [--styles 4]

Writes a CSV of products and a campaign file (3 aspect ratios × 4 styles by default, a prompt
and an id template, a fixed size) to a temporary folder, then runs as a user would `expand`
(its JSONL to a file) and `run --dry-run` (the estimate: every job checked and counted, nothing
printed per job), and prints for each the jobs a second (each job validated for the model, as
`run` would), its peak RSS, and whether it saw exactly one job per product and combination.
Nothing but the CLI and the file system is involved: no broker, table or network.
"""

import argparse
import csv
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.process_stats import ProcessCost, run_measured
from tests.support.processes import CLI, clean_env

TARGET_JOBS_PER_S = 50_000
TARGET_PEAK_RSS_MB = 300
_RATIOS = ["1:1", "9:16", "16:9", "4:3", "3:4", "3:2", "2:3", "21:9"]
_STYLES = ["photo", "watercolor", "line drawing", "isometric", "film", "pastel"]


@dataclass(frozen=True)
class Measured:
    command: str
    jobs: int
    products: int
    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    #: jobs the command saw: lines `expand` printed, jobs the dry run counted
    seen: int

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
    return _measured("expand", cost, products, jobs, printed)


def dry_run_once(folder: Path, campaign: Path, products: int, jobs: int) -> Measured:
    log = folder / "dry-run.log"
    with log.open("wb") as out:
        cost = run_measured([CLI, "run", str(campaign), "--dry-run"], clean_env(), folder, out)
    text = log.read_text()
    if cost.exit_code != 0:
        raise SystemExit(f"run --dry-run failed ({cost.exit_code}):\n{text[-3000:]}")
    counted = re.search(r": ([\d,]+) jobs from the valid rows", text)
    seen = int(counted.group(1).replace(",", "")) if counted else 0
    return _measured("run --dry-run", cost, products, jobs, seen)


def _measured(command: str, cost: ProcessCost, products: int, jobs: int, seen: int) -> Measured:
    return Measured(
        command, jobs, products, cost.seconds, cost.cpu_seconds, cost.peak_rss_bytes / 1024**2,
        seen,
    )  # fmt: skip


def report(results: list[Measured]) -> str:
    rows = [
        ("products × combinations", [f"{r.products:,} × {r.jobs // r.products}" for r in results],
         ""),
        ("jobs", [f"{r.jobs:,}" for r in results], ""),
        ("seconds", [f"{r.seconds:.1f}" for r in results], ""),
        ("jobs/s", [f"{r.jobs_per_s:,.0f}" for r in results], f"≥ {TARGET_JOBS_PER_S:,}"),
        ("CPU s (user + sys)", [f"{r.cpu_seconds:.1f}" for r in results], ""),
        ("peak RSS MB", [f"{r.peak_rss_mb:.0f}" for r in results], f"≤ {TARGET_PEAK_RSS_MB}"),
        ("saw every job once", [str(r.seen == r.jobs) for r in results], "True"),
    ]  # fmt: skip
    lines = [
        "| measure | " + " | ".join(r.command for r in results) + " | target |",
        "|---|" + "---:|" * len(results) + "---|",
    ]
    lines += [f"| {name} | {' | '.join(values)} | {target} |" for name, values, target in rows]
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
        jobs = products * combinations
        results = [
            expand_once(folder, campaign, products, jobs),
            dry_run_once(folder, campaign, products, jobs),
        ]
        print(report(results))


if __name__ == "__main__":
    main()
