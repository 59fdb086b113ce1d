"""Reading file bodies so that what is sent is never torn, and the checksum S3 verifies.

A body is read between two ``fstat`` calls on the open file; if size or mtime moved, or fewer
bytes came than the size promised, the file changed while read and the body is thrown away
(the same test rclone applies). Small files are read inline, since a thread hop costs more than
the read; larger ones in a worker thread so the event loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

ChecksumName = Literal["crc32", "md5", "sha256"]
CHECKSUMS: tuple[ChecksumName, ...] = ("crc32", "md5", "sha256")
INLINE_READ_MAX = 256 * 1024


class ChangedWhileReading(Exception):
    """The file's size or mtime moved while it was read."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    size: int
    mtime_ns: int


def _snapshot(fd: int) -> Snapshot:
    st = os.fstat(fd)
    return Snapshot(st.st_size, st.st_mtime_ns)


def read_whole(path: str) -> tuple[bytes, Snapshot]:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        before = _snapshot(fd)
        chunks = []
        remaining = before.size
        while remaining > 0:
            chunk = os.read(fd, remaining)
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        after = _snapshot(fd)
    finally:
        os.close(fd)
    if before != after or len(data) != after.size:
        raise ChangedWhileReading(path)
    return data, after


Signer = Callable[[bytes], dict[str, str]]


def _read_and_sign(path: str, sign: Signer) -> tuple[bytes, Snapshot, dict[str, str]]:
    data, snapshot = read_whole(path)
    return data, snapshot, sign(data)


async def read_body(path: str, size_hint: int, sign: Signer) -> tuple[bytes, Snapshot, dict[str, str]]:
    """The file's bytes, its snapshot and its checksum parameters; off the loop when large."""
    if size_hint <= INLINE_READ_MAX:
        return _read_and_sign(path, sign)
    return await asyncio.to_thread(_read_and_sign, path, sign)


def read_range(fd: int, offset: int, length: int, expected: Snapshot) -> bytes:
    """One part of a multipart upload; fails if the file is no longer the one we started."""
    data = os.pread(fd, length, offset)
    if len(data) != length or _snapshot(fd) != expected:
        raise ChangedWhileReading(str(fd))
    return data


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def _crc32(data: bytes) -> dict[str, str]:
    return {"ChecksumCRC32": _b64(zlib.crc32(data).to_bytes(4, "big"))}


def _md5(data: bytes) -> dict[str, str]:
    return {"ContentMD5": _b64(hashlib.md5(data, usedforsecurity=False).digest())}


def _sha256(data: bytes) -> dict[str, str]:
    return {"ChecksumSHA256": _b64(hashlib.sha256(data).digest())}


def _none(data: bytes) -> dict[str, str]:
    return {}


_SIGNERS: dict[ChecksumName | None, Signer] = {
    "crc32": _crc32,
    "md5": _md5,
    "sha256": _sha256,
    None: _none,
}
# What CreateMultipartUpload must announce for the parts' checksums to be accepted.
MULTIPART_ALGORITHM: dict[ChecksumName | None, str | None] = {
    "crc32": "CRC32",
    "md5": None,
    "sha256": "SHA256",
    None: None,
}


def checksum_params(name: ChecksumName | None) -> Signer:
    """The function that turns a body into the request parameters carrying its checksum."""
    return _SIGNERS[name]
