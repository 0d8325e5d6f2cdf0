"""The floor for bench/overhead.py: the same four calls per job, with nothing else around them.

    .venv/bin/python -m bench.minimal_asyncio --jobs 2000 --concurrency 32 --database URL

Per job: POST the prompt to the emulator's /ai/run (httpx.AsyncClient), GET the image URL it
answers with, PUT the bytes to S3 (boto3's put_object in a thread, the library the worker uses),
UPDATE the job's row in PostgreSQL (psycopg async, a few connections). The Cloudflare and S3
settings are read from the environment, as the worker reads them. Prints one JSON line: jobs,
seconds, CPU seconds of this process.

What it leaves out, and the worker does not: a broker (Celery, Redis, acks), the lease claim and
the attempt rows, recording `generated` before the download, error classes and retries, the size,
time and redirect bounds on the download, spooling, checking the image (magic number, end
marker, Pillow, SHA-256), object metadata, and everything that makes a crash resumable.
"""

import argparse
import asyncio
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import httpx
import psycopg
from botocore.config import Config

#: database connections shared by all jobs: as many as a worker process's pool holds
CONNECTIONS = 16


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--prompts", type=int, default=8, help="distinct prompts, repeated")
    parser.add_argument("--database", required=True, help="postgresql:// URL")
    parser.add_argument("--bucket", default="bench")
    args = parser.parse_args()

    database = args.database.replace("postgresql+psycopg://", "postgresql://")
    connections: asyncio.Queue[psycopg.AsyncConnection[Any]] = asyncio.Queue()
    for _ in range(CONNECTIONS):
        connections.put_nowait(await psycopg.AsyncConnection.connect(database, autocommit=True))
    conn = await connections.get()
    await conn.execute("CREATE TABLE minimal_jobs (id int PRIMARY KEY, uri text, bytes int)")
    await conn.execute(
        "INSERT INTO minimal_jobs (id) SELECT generate_series(0, %s)", (args.jobs - 1,)
    )
    connections.put_nowait(conn)

    s3 = boto3.session.Session().client("s3", config=Config(max_pool_connections=args.concurrency))
    uploads = ThreadPoolExecutor(args.concurrency)
    api = f"{os.environ['CLOUDFLARE_API_BASE']}/client/v4/accounts/"
    api += f"{os.environ['CLOUDFLARE_ACCOUNT_ID']}/ai/run"
    headers = {"Authorization": f"Bearer {os.environ['CLOUDFLARE_API_TOKEN']}"}
    limits = httpx.Limits(max_connections=args.concurrency)
    slots = asyncio.Semaphore(args.concurrency)
    loop = asyncio.get_running_loop()

    async def job(http: httpx.AsyncClient, n: int) -> None:
        async with slots:
            answer = await http.post(
                api,
                headers=headers,
                json={"model": "bytedance/seedream-4.0",
                      "input": {"prompt": f"benchmark picture {n % args.prompts}"}},
            )  # fmt: skip
            image = await http.get(answer.raise_for_status().json()["result"]["image"])
            key = f"minimal/job-{n:06d}.jpg"
            body = image.raise_for_status().content
            await loop.run_in_executor(
                uploads,
                lambda: s3.put_object(
                    Bucket=args.bucket, Key=key, Body=body, ContentType="image/jpeg"
                ),
            )
            conn = await connections.get()
            try:
                await conn.execute(
                    "UPDATE minimal_jobs SET uri = %s, bytes = %s WHERE id = %s",
                    (f"s3://{args.bucket}/{key}", len(body), n),
                )
            finally:
                connections.put_nowait(conn)

    cpu, started = os.times(), time.monotonic()
    async with httpx.AsyncClient(limits=limits, timeout=60) as http:
        await asyncio.gather(*(job(http, n) for n in range(args.jobs)))
    seconds, after = time.monotonic() - started, os.times()
    print(
        json.dumps(
            {
                "jobs": args.jobs,
                "seconds": seconds,
                "cpu_seconds": after.user + after.system - cpu.user - cpu.system,
            }
        )
    )
    uploads.shutdown()
    while not connections.empty():
        await (await connections.get()).close()


if __name__ == "__main__":
    asyncio.run(main())
