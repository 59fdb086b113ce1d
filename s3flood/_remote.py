"""What is already at the destination, learned by listing the prefix (never one HEAD per file),
and the rule that says an object already holds a file's bytes.

"Unchanged" means: same size, and the object's ETag equals the MD5 of the local bytes (for a
single-part object), or the multipart ETag computed locally with the part size s3flood would
use for that file. That is a content check, so a changed file is never skipped, whatever its
mtime says; the price is reading each same-sized local file once. An ETag that is neither
(SSE-KMS, a different part size) never matches, so the file is sent again: the safe direction.

Memory: each listed object costs one dict slot keyed by a 16-byte digest of its key, holding
a packed 28-byte value: about 150 bytes per object, ~150 MB for a million.
"""

from __future__ import annotations

import asyncio
import hashlib
import struct
from typing import Any

from s3flood._multipart import plan_parts
from s3flood._processes import shard_of
from s3flood._requests import Requests

_VALUE = struct.Struct(">Q16sI")  # size, md5 digest, part count (0: single-part)


def _digest(key: str) -> bytes:
    return hashlib.blake2b(key.encode("utf-8", "surrogateescape"), digest_size=16).digest()


def _parse_etag(etag: str) -> tuple[bytes, int] | None:
    etag = etag.strip('"')
    head, _, parts = etag.partition("-")
    try:
        digest = bytes.fromhex(head)
        count = int(parts) if parts else 0
    except ValueError:
        return None
    return (digest, count) if len(digest) == 16 else None


class RemoteIndex:
    """``shard=(index, count)``: keep only the keys that process ``index`` of ``count`` owns."""

    def __init__(self, shard: tuple[int, int] | None = None) -> None:
        self.shard = shard
        self._objects: dict[bytes, bytes] = {}
        self.ready = asyncio.Event()
        self.listed = 0

    def add(self, key: str, size: int, etag: str) -> None:
        if self.shard is not None and shard_of(key, self.shard[1]) != self.shard[0]:
            return
        parsed = _parse_etag(etag)
        if parsed is not None:
            self._objects[_digest(key)] = _VALUE.pack(size, parsed[0], parsed[1])
        self.listed += 1

    async def load(self, requests: Requests, prefix: str) -> None:
        """List every object under ``prefix``: ListObjectsV2 a page at a time, each page
        retried like any other request."""
        params: dict[str, Any] = {"Prefix": prefix, "MaxKeys": 1000}
        while True:
            page, _ = await requests.call_retrying("list_objects_v2", **params)
            for obj in page.get("Contents", ()):
                self.add(obj["Key"], int(obj["Size"]), str(obj.get("ETag", "")))
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                break
            params["ContinuationToken"] = token
        self.ready.set()

    def lookup(self, key: str) -> tuple[int, bytes, int] | None:
        value = self._objects.get(_digest(key))
        if value is None:
            return None
        size, digest, parts = _VALUE.unpack(value)
        return size, digest, parts

    def __len__(self) -> int:
        return len(self._objects)


def matches(remote: tuple[int, bytes, int], data_md5: bytes | None, size: int) -> bool:
    """For a single-part object: does the object hold these bytes?"""
    remote_size, digest, parts = remote
    return remote_size == size and parts == 0 and data_md5 == digest


def file_matches(path: str, size: int, remote: tuple[int, bytes, int], part_size: int) -> bool:
    """Hash the local file the way the object's ETag was made and compare (blocking)."""
    remote_size, digest, parts = remote
    if remote_size != size:
        return False
    with open(path, "rb") as f:
        if parts == 0:
            return hashlib.file_digest(f, "md5").digest() == digest
        plan = plan_parts(size, part_size)
        if plan.count != parts:
            return False
        combined = hashlib.md5(usedforsecurity=False)
        for _ in range(plan.count):
            combined.update(hashlib.md5(f.read(plan.part_size), usedforsecurity=False).digest())
        return combined.digest() == digest


class UnchangedCheck:
    """Answers "does the destination already hold this file?" once the listing is complete."""

    def __init__(self, index: RemoteIndex, part_size: int) -> None:
        self.index = index
        self.part_size = part_size

    async def remote(self, key: str) -> tuple[int, bytes, int] | None:
        if not self.index.ready.is_set():
            await self.index.ready.wait()
        return self.index.lookup(key)

    async def body_is_stored(self, key: str, body: bytes) -> bool:
        remote = await self.remote(key)
        if remote is None or remote[0] != len(body):
            return False
        return matches(remote, hashlib.md5(body, usedforsecurity=False).digest(), len(body))

    async def file_is_stored(self, key: str, path: str, size: int) -> bool:
        remote = await self.remote(key)
        if remote is None or remote[0] != size:
            return False
        return await asyncio.to_thread(file_matches, path, size, remote, self.part_size)
