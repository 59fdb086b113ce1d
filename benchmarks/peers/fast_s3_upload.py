"""fast-s3 (asyncio + aiohttp with its own SigV4 signing), fed the walked file list.

python benchmarks/peers/fast_s3_upload.py DIR BUCKET PREFIX ENDPOINT [--concurrency 256]
"""

from __future__ import annotations

import os

import fast_s3  # type: ignore[import-untyped]

from benchmarks.peers.plain_aioboto3 import files, peer_arguments


def main() -> None:
    args = peer_arguments(256)
    walked = list(files(args.root))
    with fast_s3.Uploader(
        endpoint_url=args.endpoint,
        aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
        bucket_name=args.bucket,
        concurrency=args.concurrency,
        addressing_style="path",
    ) as uploader:
        uploader.queue_upload([p for p, _ in walked], [args.prefix + k for _, k in walked])
        results = uploader.await_upload()
    failed = sum(1 for r in results if r.status != "done")
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
