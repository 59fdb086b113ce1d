"""Reading multipart parts off the event loop: one os.pread on a worker thread per part, or
aiofiles (open once, then seek + read per part, each a thread hop). Same files, same part
size, interleaved repeats, best of each.

    python benchmarks/part_reads.py [FILE ...]
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import aiofiles

PART = 8 * 1024 * 1024
ROOT = Path(__file__).resolve().parent.parent


async def thread_pread(path: str) -> int:
    fd = os.open(path, os.O_RDONLY)
    try:
        size, total = os.fstat(fd).st_size, 0
        for offset in range(0, size, PART):
            total += len(await asyncio.to_thread(os.pread, fd, PART, offset))
        return total
    finally:
        os.close(fd)


async def with_aiofiles(path: str) -> int:
    total = 0
    async with aiofiles.open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        for offset in range(0, size, PART):
            await f.seek(offset)
            total += len(await f.read(PART))
    return total


async def main(paths: list[str]) -> None:
    best = {"thread + os.pread": float("inf"), "aiofiles": float("inf")}
    for _ in range(3):
        for name, reader in (("thread + os.pread", thread_pread), ("aiofiles", with_aiofiles)):
            started = time.perf_counter()
            size = sum([await reader(p) for p in paths])
            best[name] = min(best[name], time.perf_counter() - started)
    for name, seconds in best.items():
        print(f"{name}: {size / seconds / 1e6:,.0f} MB/s ({size / 1e6:,.0f} MB in {seconds:.2f}s)")


if __name__ == "__main__":
    files = sys.argv[1:] or [str(p) for p in sorted((ROOT / "bench-data" / "large").glob("*.bin"))]
    asyncio.run(main(files))
