"""What a worker does with one file: resolve a decided entry, or send it as one PUT or multipart."""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from s3flood._body import ChangedWhileReading, ChecksumName, checksum_params, read_body
from s3flood._budget import SMALL_BODY, ByteBudget
from s3flood._engine import GiveUp, Job, Retry, Skip
from s3flood._multipart import upload_multipart
from s3flood._remote import UnchangedCheck
from s3flood._requests import Requests
from s3flood._walk import FileEntry

BytesCallback = Callable[[FileEntry, int], None]


@dataclass(frozen=True, slots=True)
class SendSettings:
    multipart_threshold: int
    part_size: int
    checksum: ChecksumName | None


def resolve_verdict(entry: FileEntry) -> None:
    """Finish an entry whose outcome the walk already decided."""
    if entry.verdict == "skipped":
        raise Skip(entry.reason)
    if entry.verdict == "failed":
        raise GiveUp(entry.reason, attempts=0)


UNCHANGED = "unchanged: the object already holds these bytes"


async def skip_if_stored(unchanged: UnchangedCheck, entry: FileEntry) -> None:
    """Raise Skip when the destination already holds the file (hashing it from disk)."""
    try:
        stored = await unchanged.file_is_stored(entry.key, entry.path, entry.size)
    except OSError as exc:
        raise GiveUp(f"cannot read: {exc.strerror or exc}", attempts=0) from None
    if stored:
        raise Skip(UNCHANGED)


class DryRunSender:
    """Decides like the real sender and sends nothing: ``uploaded`` counts what would go."""

    def __init__(self, unchanged: UnchangedCheck | None) -> None:
        self.unchanged = unchanged

    async def __call__(self, job: Job[FileEntry]) -> int:
        entry = job.item
        resolve_verdict(entry)
        if self.unchanged is not None:
            await skip_if_stored(self.unchanged, entry)
        return 0


class S3Sender:
    def __init__(
        self,
        requests: Requests,
        budget: ByteBudget,
        settings: SendSettings,
        on_bytes: BytesCallback,
        unchanged: UnchangedCheck | None = None,
    ) -> None:
        self.unchanged = unchanged
        self.requests = requests
        self.budget = budget
        self.settings = settings
        self.on_bytes = on_bytes
        self._sign = checksum_params(settings.checksum)
        self._types = mimetypes.MimeTypes()

    async def __call__(self, job: Job[FileEntry]) -> int:
        entry = job.item
        resolve_verdict(entry)
        if entry.size >= self.settings.multipart_threshold and entry.size > 0:
            if self.unchanged is not None:
                await skip_if_stored(self.unchanged, entry)
            return await self._send_multipart(entry)
        return await self._put(job)

    def _extra(self, key: str) -> dict[str, Any]:
        content_type, _ = self._types.guess_type(key, strict=False)
        return {"ContentType": content_type} if content_type else {}

    async def _put(self, job: Job[FileEntry]) -> int:
        entry = job.item
        reserved = await self.budget.acquire(entry.size) if entry.size > SMALL_BODY else 0
        try:
            try:
                body, snapshot, checksum = await read_body(entry.path, entry.size, self._sign)
            except ChangedWhileReading:
                raise Retry("changed during upload", attempts=1) from None
            except FileNotFoundError:
                raise GiveUp("vanished before it was read", attempts=0) from None
            except OSError as exc:
                raise GiveUp(f"cannot read: {exc.strerror or exc}", attempts=0) from None
            if snapshot.size >= self.settings.multipart_threshold:
                entry.size = snapshot.size  # the next attempt goes multipart
                raise Retry("changed during upload (grew past the multipart threshold)", attempts=1)
            if self.unchanged is not None and await self.unchanged.body_is_stored(entry.key, body):
                raise Skip(UNCHANGED)
            _, sent = await self.requests.call(
                "put_object",
                job.attempts,
                Key=entry.key,
                Body=body,
                **checksum,
                **self._extra(entry.key),
            )
        finally:
            if reserved:
                self.budget.release(reserved)
        self.requests.anything_written = True
        entry.size = snapshot.size
        self.on_bytes(entry, snapshot.size)
        return sent

    async def _send_multipart(self, entry: FileEntry) -> int:
        attempts, size = await upload_multipart(
            self.requests,
            self.budget,
            path=entry.path,
            key=entry.key,
            size=entry.size,
            part_size=self.settings.part_size,
            checksum=self.settings.checksum,
            extra=self._extra(entry.key),
            on_bytes=lambda delta: self.on_bytes(entry, delta),
        )
        entry.size = size
        return attempts
