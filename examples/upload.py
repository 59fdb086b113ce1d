"""Upload a folder to S3 with 100 workers and print the report (the seed's uploader).

    python examples/upload.py DIR BUCKET [--prefix P] [--endpoint-url URL]

Credentials come from the standard AWS chain (environment, profile, instance role):
nothing is written into the code.
"""

from __future__ import annotations

import argparse
import asyncio

import s3flood


async def upload(
    directory: str, bucket: str, prefix: str = "", endpoint_url: str | None = None
) -> s3flood.UploadReport:
    report = await s3flood.upload_directory(
        directory, bucket, prefix=prefix, endpoint_url=endpoint_url, concurrency=100
    )
    for failure in report.failed[:10]:
        print(f"failed: {failure.path}: {failure.error} (after {failure.attempts} attempts)")
    return report


def describe(report: s3flood.UploadReport) -> str:
    rate = report.found / report.elapsed if report.elapsed else 0.0
    return (
        f"found={report.found} uploaded={report.uploaded} skipped={report.skipped} "
        f"failed={len(report.failed)} retries={report.retries} bytes={report.bytes_uploaded} "
        f"elapsed={report.elapsed:.1f}s rate={rate:,.0f} files/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("directory")
    parser.add_argument("bucket")
    parser.add_argument("--prefix", default="")
    parser.add_argument("--endpoint-url")
    args = parser.parse_args()
    report = asyncio.run(upload(args.directory, args.bucket, args.prefix, args.endpoint_url))
    print(describe(report))
    raise SystemExit(0 if report.ok else 1)


if __name__ == "__main__":
    main()
