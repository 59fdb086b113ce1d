"""Multipart uploads: parts read a budgeted slice at a time, sent concurrently, always completed
or aborted.

Memory: a part's bytes are read only once the byte budget grants them and are released when
the part's request ends, so parts in memory x part size <= the budget, however large the file.
Nothing left behind: any exit other than success (a part out of attempts, the file changing,
cancellation, Ctrl-C) aborts the upload before the exception goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from s3flood._body import (
    MULTIPART_ALGORITHM,
    ChangedWhileReading,
    ChecksumName,
    Snapshot,
    checksum_params,
    read_range,
)
from s3flood._budget import ByteBudget
from s3flood._engine import GiveUp, Retry, first_cause
from s3flood._requests import Requests

log = logging.getLogger("s3flood")

MIN_PART_SIZE = 5 * 1024**2
MAX_PARTS = 10_000
MAX_OBJECT_SIZE = 5 * 1024**4
_ABORT_TIMEOUT = 15.0


@dataclass(frozen=True, slots=True)
class PartPlan:
    part_size: int
    count: int

    def span(self, index: int, size: int) -> tuple[int, int]:
        offset = index * self.part_size
        return offset, min(self.part_size, size - offset)


def plan_parts(size: int, part_size: int, *, max_parts: int | None = None) -> PartPlan:
    """The part size, doubled until ``size`` fits in ``max_parts`` (S3: 10,000) parts."""
    max_parts = max_parts or MAX_PARTS
    while part_size * max_parts < size:
        part_size *= 2
    return PartPlan(part_size, max(1, -(-size // part_size)))


async def upload_multipart(
    requests: Requests,
    budget: ByteBudget,
    *,
    path: str,
    key: str,
    size: int,
    part_size: int,
    checksum: ChecksumName | None,
    extra: dict[str, Any],
    on_bytes: Callable[[int], None],
) -> tuple[int, int]:
    """Upload ``path`` as a multipart object; returns (most requests for one part, bytes sent)."""
    if size > MAX_OBJECT_SIZE:
        raise GiveUp(f"file too large: {size} bytes, S3 allows 5 TiB", attempts=0)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise GiveUp(f"cannot read: {exc.strerror or exc}", attempts=0) from exc
    try:
        st = os.fstat(fd)
        start = Snapshot(st.st_size, st.st_mtime_ns)
        plan = plan_parts(start.size, part_size)
        algorithm = MULTIPART_ALGORITHM[checksum]
        create_params = dict(extra, Key=key)
        if algorithm is not None:
            create_params["ChecksumAlgorithm"] = algorithm
        upload_id, most = await _create(requests, key, create_params)
        upload = _Upload(requests, key, upload_id, checksum, on_bytes)
        try:
            most = max(most, await upload.send_parts(fd, budget, plan, start))
            _, sent = await requests.call_retrying(
                "complete_multipart_upload",
                Key=key,
                UploadId=upload.upload_id,
                MultipartUpload={"Parts": upload.completed_parts()},
            )
        except BaseException:
            on_bytes(-upload.bytes_sent)
            await upload.abort()
            raise
        finally:
            if most > 1:
                # A create whose answer was lost (reset, timeout) may still have made an
                # upload we never learned the id of: find it by key, or it stays forever.
                # A stalled one can even arrive later, so the run sweeps the key again at the end.
                requests.stray_keys.add(key)
                await asyncio.shield(abort_strays(requests, key, keep=upload.upload_id))
        requests.anything_written = True
        return max(most, sent), start.size
    except ChangedWhileReading:
        raise Retry("changed during upload", attempts=1) from None
    finally:
        os.close(fd)


async def _create(requests: Requests, key: str, params: dict[str, Any]) -> tuple[str, int]:
    """CreateMultipartUpload; returns (upload id, requests made).

    Cancelled while its answer is on the way, the upload exists but its id is not yet ours: wait
    for the answer (bounded) and abort it, or it would stay open forever.
    """
    creating = asyncio.ensure_future(requests.call_retrying("create_multipart_upload", **params))
    try:
        created, most = await asyncio.shield(creating)
    except asyncio.CancelledError:
        await asyncio.shield(_undo_create(requests, key, creating))
        raise
    return created["UploadId"], most


async def _undo_create(requests: Requests, key: str, creating: asyncio.Future[Any]) -> None:
    try:
        created, _ = await asyncio.wait_for(creating, _ABORT_TIMEOUT)
    except Exception:  # failed or silent: it may still have made an upload, so look by key
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(abort_strays(requests, key), _ABORT_TIMEOUT)
        return
    await _Upload(requests, key, created["UploadId"], None, _ignore).abort()


def _ignore(_: int) -> None:
    pass


class _Upload:
    def __init__(
        self,
        requests: Requests,
        key: str,
        upload_id: str,
        checksum: ChecksumName | None,
        on_bytes: Callable[[int], None],
    ) -> None:
        self.requests = requests
        self.key = key
        self.upload_id = upload_id
        self.sign = checksum_params(checksum)
        self.on_bytes = on_bytes
        self.bytes_sent = 0
        self._parts: dict[int, dict[str, Any]] = {}

    async def send_parts(self, fd: int, budget: ByteBudget, plan: PartPlan, start: Snapshot) -> int:
        most = 0

        def read_and_sign(offset: int, length: int) -> tuple[bytes, dict[str, str]]:
            # In the worker thread: the checksum of a part costs milliseconds of CPU.
            data = read_range(fd, offset, length, start)
            return data, self.sign(data)

        async def send(number: int, data: bytes, checksum: dict[str, str], reserved: int) -> None:
            nonlocal most
            try:
                response, attempts = await self.requests.call_retrying(
                    "upload_part",
                    Key=self.key,
                    UploadId=self.upload_id,
                    PartNumber=number,
                    Body=data,
                    **checksum,
                )
            except GiveUp as exc:
                raise GiveUp(f"part {number}/{plan.count}: {exc.reason}", attempts=exc.attempts) from exc
            finally:
                budget.release(reserved)
            most = max(most, attempts)
            part = {"PartNumber": number, "ETag": response["ETag"]}
            part.update({k: v for k, v in checksum.items() if k.startswith("Checksum")})
            self._parts[number] = part
            self.bytes_sent += len(data)
            self.on_bytes(len(data))

        try:
            async with asyncio.TaskGroup() as group:
                for index in range(plan.count):
                    offset, length = plan.span(index, start.size)
                    reserved = await budget.acquire(length)
                    try:
                        data, checksum = await asyncio.to_thread(read_and_sign, offset, length)
                    except BaseException:
                        budget.release(reserved)
                        raise
                    group.create_task(send(index + 1, data, checksum, reserved))
        except BaseExceptionGroup as group_error:
            raise first_cause(group_error) from None
        return most

    def completed_parts(self) -> list[dict[str, Any]]:
        return [self._parts[number] for number in sorted(self._parts)]

    async def abort(self) -> None:
        """Abort, shielded from the cancellation that may have brought us here."""
        try:
            await asyncio.shield(asyncio.wait_for(self._abort(), _ABORT_TIMEOUT))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the original failure matters more; say what is left over
            log.warning("could not abort multipart upload %s of %s: %s", self.upload_id, self.key, exc)

    async def _abort(self) -> None:
        client = self.requests.client
        for attempt in range(3):
            try:
                await client.abort_multipart_upload(
                    Bucket=self.requests.bucket, Key=self.key, UploadId=self.upload_id
                )
                return
            except Exception as exc:
                if "NoSuchUpload" in str(exc) or attempt == 2:
                    if attempt == 2:
                        raise
                    return
                await asyncio.sleep(0.2 * (attempt + 1))


async def abort_strays(requests: Requests, key: str, *, keep: str | None = None) -> None:
    """Abort every upload in progress for ``key`` but ``keep`` (best effort, retried)."""
    try:
        listing, _ = await requests.call_retrying("list_multipart_uploads", Prefix=key)
        for stray in listing.get("Uploads", ()):
            if stray["Key"] == key and stray["UploadId"] != keep:
                await requests.call_retrying("abort_multipart_upload", Key=key, UploadId=stray["UploadId"])
    except Exception as exc:
        log.warning("could not look for stray multipart uploads of %s: %s", key, exc)


async def sweep_strays(requests: Requests) -> None:
    """At the end of a run: abort what late-arriving creates left behind."""
    for key in sorted(requests.stray_keys):
        await abort_strays(requests, key)
