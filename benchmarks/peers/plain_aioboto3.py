"""The uploader a user would write with aioboto3: a queue, 100 workers, a pool to match.

python benchmarks/peers/plain_aioboto3.py DIR BUCKET PREFIX ENDPOINT [--concurrency 100]
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Iterator

import aioboto3
from botocore.config import Config


def files(root: str) -> Iterator[tuple[str, str]]:
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            yield path, os.path.relpath(path, root).replace(os.sep, "/")


async def upload(root: str, bucket: str, prefix: str, endpoint: str, concurrency: int) -> None:
    queue: asyncio.Queue[tuple[str, str] | None] = asyncio.Queue(maxsize=concurrency * 2)
    config = Config(max_pool_connections=concurrency)
    async with aioboto3.Session().client("s3", endpoint_url=endpoint, config=config) as client:

        async def worker() -> None:
            while (job := await queue.get()) is not None:
                path, key = job
                with open(path, "rb") as f:
                    body = f.read()
                await client.put_object(Bucket=bucket, Key=prefix + key, Body=body)

        workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
        for job in files(root):
            await queue.put(job)
        for _ in workers:
            await queue.put(None)
        await asyncio.gather(*workers)


def peer_arguments(concurrency: int) -> argparse.Namespace:
    """ROOT BUCKET PREFIX ENDPOINT [--concurrency N]: what every peer runner takes."""
    parser = argparse.ArgumentParser()
    for name in ("root", "bucket", "prefix", "endpoint"):
        parser.add_argument(name)
    parser.add_argument("--concurrency", type=int, default=concurrency)
    return parser.parse_args()


def main() -> None:
    args = peer_arguments(100)
    asyncio.run(upload(args.root, args.bucket, args.prefix, args.endpoint, args.concurrency))


if __name__ == "__main__":
    main()
