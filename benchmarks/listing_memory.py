"""Peak RSS of `s3flood --skip-unchanged` against a prefix of N objects (default 1,000,000).

Creating a million real objects takes longer than the measurement, so a tiny HTTP server on
127.0.0.1 answers ListObjectsV2 with N synthetic keys, 1,000 per page, like S3. The CLI runs
as a child process (dry run, a source of one file) and its peak RSS comes from wait4().

    python benchmarks/listing_memory.py [--keys 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._measure import run_upload

PAGE = 1000


def page_xml(start: int, total: int, prefix: str) -> bytes:
    end = min(start + PAGE, total)
    contents = "".join(
        f"<Contents><Key>{prefix}dir{i // 10000:03}/object-{i:09}.jpg</Key><Size>{1000 + i % 5000}</Size>"
        f'<ETag>"{i:032x}"</ETag><LastModified>2026-01-01T00:00:00.000Z</LastModified>'
        "<StorageClass>STANDARD</StorageClass></Contents>"
        for i in range(start, end)
    )
    truncated = end < total
    token = f"<NextContinuationToken>{end}</NextContinuationToken>" if truncated else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?><ListBucketResult>'
        f"<Name>bench</Name><Prefix>{prefix}</Prefix><KeyCount>{end - start}</KeyCount>"
        f"<MaxKeys>{PAGE}</MaxKeys>"
        f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>{token}{contents}</ListBucketResult>"
    ).encode()


def serve(total: int, ready: threading.Event, port_box: list[int]) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                target = head.split(b" ", 2)[1].decode()
                query = parse_qs(urlsplit(target).query)
                start = int(query.get("continuation-token", ["0"])[0])
                body = page_xml(start, total, query.get("prefix", [""])[0])
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port_box.append(server.sockets[0].getsockname()[1])
        ready.set()
        await server.serve_forever()

    asyncio.run(main())


def measure(keys: int) -> tuple[float, float]:
    """(peak RSS in MiB, seconds) of one dry run with --skip-unchanged over ``keys`` objects."""
    ready = threading.Event()
    port_box: list[int] = []
    threading.Thread(target=serve, args=(keys, ready, port_box), daemon=True).start()
    ready.wait()
    with tempfile.TemporaryDirectory() as src:
        with open(os.path.join(src, "one.txt"), "w") as f:
            f.write("x")
        elapsed, peak, _ = run_upload(
            src,
            "s3://bench/photos",
            "--endpoint-url",
            f"http://127.0.0.1:{port_box[0]}",
            "--skip-unchanged",
            "--dry-run",
        )
    return peak, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--keys", type=int, default=1_000_000)
    args = parser.parse_args()
    base, _ = measure(0)
    peak, elapsed = measure(args.keys)
    print(
        f"listing {args.keys:,} keys: peak RSS {peak:.0f} MiB (baseline with 0 keys: {base:.0f} MiB), "
        f"{elapsed:.1f}s, {args.keys / elapsed:,.0f} keys/s"
    )


if __name__ == "__main__":
    main()
