"""s3flood as a library, no CLI (issue 3's memory measurement is of a CLI-less Python run).

python -m benchmarks.peers.s3flood_lib DIR BUCKET PREFIX ENDPOINT
"""

from __future__ import annotations

import asyncio
import sys

import s3flood


def main() -> None:
    root, bucket, prefix, endpoint = sys.argv[1:5]
    report = asyncio.run(
        s3flood.upload_directory(root, bucket, prefix=prefix, endpoint_url=endpoint, concurrency=100)
    )
    raise SystemExit(0 if report.ok else 1)


if __name__ == "__main__":
    main()
