"""Export speed and memory: a batch of fake finished jobs through `seedream-batch export`.

    .venv/bin/python -m bench.export [--rows 100000] [--database sqlite --database postgresql]

Fills a results table (a SQLite file, or a throwaway PostgreSQL database) with one batch of
`--rows` jobs from bench/submission.py's manifest rows (varied prompts, sizes, captions and label
lists), recorded through the results table API and then marked finished in one UPDATE (19 in 20
succeeded, 1 in 20 failed), then runs `export` once per format as a user would and prints, for
each: rows/s, CPU, the export process's peak RSS and the size written. Memory should not grow
with the batch: compare `--rows 10000` with `--rows 1000000`.

The image formats (`--format imagefolder --format webdataset`) need the images: with one of them,
every succeeded job gets a real JPEG file (`--image-kb`, about 100 KB, one file shared on disk
by hard links, so a big batch costs inodes, not gigabytes) in a local output folder.

`--images-per-job N` gives each succeeded job N images, each a row in `job_images` as a worker
records a model's answer of several (stored as `{key}/{n}.jpg`): the export then writes N rows
(or samples) per succeeded job; rows/s still counts jobs.
"""

import argparse
import io
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from sqlalchemy import Insert, case, insert, literal, select, union_all, update

from bench.process_stats import run_measured
from bench.submission import database_url, manifest_row
from jobs.database import open_engine, utcnow
from jobs.models import model_named
from jobs.results import ResultsTable
from jobs.schema import job_images_table, jobs_table
from jobs.spec import JobSpec
from tests.support.processes import CLI, clean_env

#: job fields of a manifest row; the rest is metadata
_JOB_FIELDS = {"prompt", "size", "aspect_ratio", "width", "height", "enhance_prompt", "image"}
_CHUNK = 5000
#: the model whose columns the batch's rows have
MODEL = "bytedance/seedream-4.0"
TABLE_FORMATS = ["jsonl", "csv", "parquet"]
IMAGE_FORMATS = ["imagefolder", "webdataset"]


def fill_table(url: str, batch: str, rows: int, images: Path, images_per_job: int) -> None:
    """One batch of `rows` finished jobs, as workers would have left them, their images (when
    they are needed) stored under the folder `images`, `images_per_job` each."""
    table = ResultsTable(open_engine(url))
    table.create_schema()
    model = model_named(MODEL)
    table.create_batch(batch, "bench.jsonl", str(images), model.name)
    for start in range(0, rows, _CHUNK):
        specs = []
        for n in range(start, min(start + _CHUNK, rows)):
            row = manifest_row(n)
            specs.append(
                JobSpec(
                    key=str(row.pop("id")),
                    line=n + 1,
                    input=model.parse_input({k: v for k, v in row.items() if k in _JOB_FIELDS}),
                    metadata={k: v for k, v in row.items() if k not in _JOB_FIELDS},
                )
            )
        table.add_jobs(batch, specs)
    failed = jobs_table.c.id % 20 == 0
    first = ".jpg" if images_per_job == 1 else "/0.jpg"
    finished = {
        "state": case((failed, "failed"), else_="succeeded"),
        "output_uri": case(
            (failed, None), else_=literal(f"{images}/{batch}/") + jobs_table.c.key + literal(first)
        ),
        "bytes": case((failed, None), else_=412_345),
        "sha256": case((failed, None), else_="0" * 64),
        "width": case((failed, None), else_=2048),
        "height": case((failed, None), else_=2048),
        "error_class": case((failed, "content_policy"), else_=None),
        "error_message": case((failed, "flagged by the content moderation system"), else_=None),
        "attempts": 1,
        "cost": 0.03 * images_per_job,
        "log_id": literal("01JAIGLOG") + jobs_table.c.key,
        "finished_at": utcnow(),
    }
    with table.engine.begin() as conn:
        conn.execute(update(jobs_table).where(jobs_table.c.batch_id == batch).values(**finished))
        if images_per_job > 1:
            for n in range(images_per_job):
                conn.execute(add_images(batch, n, images))
    table.engine.dispose()


def add_images(batch: str, n: int, images: Path) -> Insert:
    """The `n`th image of every succeeded job, in `job_images`, in one INSERT ... SELECT."""
    uri = literal(f"{images}/{batch}/") + jobs_table.c.key + literal(f"/{n}.jpg")
    succeeded = select(
        jobs_table.c.id, literal(n), uri, jobs_table.c.bytes, jobs_table.c.sha256,
        jobs_table.c.width, jobs_table.c.height,
    ).where(jobs_table.c.batch_id == batch, jobs_table.c.state == "succeeded")  # fmt: skip
    columns = ["job_id", "n", "output_uri", "bytes", "sha256", "width", "height"]
    return insert(job_images_table).from_select(columns, succeeded)


def store_images(url: str, batch: str, image_kb: int) -> None:
    """A JPEG of about `image_kb` at every stored image's URI: one file, hard-linked."""
    engine = open_engine(url)
    stored = union_all(
        select(jobs_table.c.output_uri).where(
            jobs_table.c.batch_id == batch, jobs_table.c.output_uri.is_not(None)
        ),
        select(job_images_table.c.output_uri)
        .join(jobs_table, jobs_table.c.id == job_images_table.c.job_id)
        .where(jobs_table.c.batch_id == batch),
    )
    with engine.connect() as conn:
        uris = sorted(set(conn.execute(stored).scalars()))
    engine.dispose()
    original = Path(uris[0])
    original.parent.mkdir(parents=True, exist_ok=True)
    original.write_bytes(noise_jpeg(image_kb))
    for uri in uris[1:]:
        path = Path(uri)
        path.parent.mkdir(parents=True, exist_ok=True)
        os.link(original, path)


def noise_jpeg(kb: int) -> bytes:
    """A JPEG of random pixels, about `kb` KB (noise does not compress)."""
    side = max(int((kb * 1024 / 0.6) ** 0.5), 16)  # ~0.6 bytes a pixel at quality 85
    out = io.BytesIO()
    Image.frombytes("L", (side, side), os.urandom(side * side)).convert("RGB").save(
        out, "JPEG", quality=85
    )
    return out.getvalue()


def size_mb(path: Path) -> float:
    """A file's size, or the files' under a folder (each hard link counted once per name)."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 1e6


@dataclass
class Measured:
    database: str
    format: str
    rows: int
    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    file_mb: float


def export_once(
    database: str, url: str, batch: str, fmt: str, rows: int, workdir: Path
) -> Measured:
    env = clean_env(SEEDREAM_DATABASE_URL=url)
    target = workdir / f"{database}.{fmt}"  # a file, or a folder for the image formats
    log = workdir / f"export-{database}-{fmt}.log"
    argv = [CLI, "export", batch, "--format", fmt, "--to", str(target)]
    with log.open("wb") as out:
        cost = run_measured(argv, env, workdir, out)
    if cost.exit_code != 0:
        raise SystemExit(f"export failed:\n{log.read_text()[-3000:]}")
    measured = Measured(
        database=database,
        format=fmt,
        rows=rows,
        seconds=cost.seconds,
        cpu_seconds=cost.cpu_seconds,
        peak_rss_mb=cost.peak_rss_bytes / 1024**2,
        file_mb=size_mb(target),
    )
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    return measured


def report(results: list[Measured]) -> str:
    lines = [
        "| database | format | rows | seconds | rows/s | CPU s | peak RSS MB | written MB |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.database} | {r.format} | {r.rows:,} | {r.seconds:.1f} | "
            f"{r.rows / r.seconds:,.0f} | {r.cpu_seconds:.1f} | {r.peak_rss_mb:.0f} | "
            f"{r.file_mb:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument(
        "--database",
        choices=["postgresql", "sqlite"],
        action="append",
        help="results table to export from; repeat for both (default sqlite)",
    )
    parser.add_argument(
        "--format",
        choices=TABLE_FORMATS + IMAGE_FORMATS,
        action="append",
        help="default: the three table formats",
    )
    parser.add_argument("--image-kb", type=int, default=100, help="size of each image")
    parser.add_argument(
        "--images-per-job", type=int, default=1, help="images of each succeeded job"
    )
    args = parser.parse_args()
    formats = args.format or TABLE_FORMATS
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for kind in args.database or ["sqlite"]:
            with database_url(kind, workdir) as url:
                started = time.monotonic()
                images = workdir / f"images-{kind}"
                fill_table(url, "bench", args.rows, images, args.images_per_job)
                if set(formats) & set(IMAGE_FORMATS):
                    store_images(url, "bench", args.image_kb)
                print(f"{kind}: {args.rows:,} jobs recorded in {time.monotonic() - started:.1f} s",
                      file=sys.stderr)  # fmt: skip
                for fmt in formats:
                    results.append(export_once(kind, url, "bench", fmt, args.rows, workdir))
    print(f"\n`seedream-batch export`, a batch of {args.rows:,} finished jobs\n")
    print(report(results))


if __name__ == "__main__":
    main()
