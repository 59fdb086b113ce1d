"""One run: wires walk -> engine -> sender, and turns outcomes into the tally, the manifest and
progress events. The CLI keeps a handle on it so that an interrupted run can still report."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections import deque
from collections.abc import AsyncIterator
from multiprocessing.connection import Connection
from typing import Any

import aioboto3

from s3flood._budget import ByteBudget
from s3flood._classify import Kind, Verdict, destination_error
from s3flood._client import ClientSettings, has_credentials, new_session, open_client
from s3flood._engine import DEFAULT_BACKOFF, Backoff, Job, Outcome, run_pipeline, run_together
from s3flood._errors import DestinationError
from s3flood._events import EventKind, ProgressCallback, ProgressEvent
from s3flood._limiter import RequestLimiter
from s3flood._manifest import ManifestWriter
from s3flood._multipart import sweep_strays
from s3flood._options import AUTO, AUTO_PROCESSES_MIN_FILES, MAX_AUTO_PROCESSES, UploadOptions
from s3flood._processes import ChildChannel, ProcessPool
from s3flood._remote import RemoteIndex, UnchangedCheck
from s3flood._report import FailedUpload, Tally, UploadReport
from s3flood._requests import Requests
from s3flood._sender import DryRunSender, S3Sender, SendSettings
from s3flood._walk import FileEntry, PathFilter, check_source, stream, walk


class Run:
    def __init__(
        self,
        root: str,
        bucket: str,
        options: UploadOptions,
        *,
        session: aioboto3.Session | None = None,
        client: Any = None,
        on_progress: ProgressCallback | None = None,
        backoff: Backoff = DEFAULT_BACKOFF,
    ) -> None:
        self.root = root
        self.bucket = bucket
        self.options = options
        self.session = session
        self.client = client
        self.on_progress = on_progress
        self.backoff = backoff
        self.tally = Tally()
        self.bytes_done = 0
        self.live_retries = 0
        self.walk_finished = False
        self.limiter: RequestLimiter | None = None
        self.shard: tuple[int, int] | None = None  # (index, count): the keys this process lists
        self._peeked: Peeked | None = None
        self.process_count = 1  # how many processes sent (decided at the start for "auto")
        self._manifest: ManifestWriter | None = None
        self._started = time.monotonic()

    def report(self, *, interrupted: bool = False) -> UploadReport:
        return self.tally.freeze(
            elapsed=time.monotonic() - self._started,
            dry_run=self.options.dry_run,
            interrupted=interrupted,
        )

    async def execute(self) -> UploadReport:
        await asyncio.to_thread(check_source, self.root)
        self._started = time.monotonic()
        options = self.options
        if options.manifest is not None:
            self._manifest = ManifestWriter(options.manifest)
        try:
            if options.dry_run and not options.skip_unchanged:
                await self._pipeline(DryRunSender(None))
            elif (count := await self._process_count()) > 1:
                self.process_count = count
                await self._in_processes(count)
            else:
                await self._with_client()
        finally:
            if self._manifest is not None:
                self._manifest.close()
        return self.report()

    async def _process_count(self) -> int:
        """``processes``, or for "auto": one per core (at most 4) when the tree is large enough
        to repay starting them (~0.3 s each), which the walk tells within its first 2,000 files.
        Measured here, with the store on the same two cores: 3,000 small files took 2.7 s with
        2 processes and 3.1-3.3 s with one."""
        wanted = self.options.processes
        if wanted != AUTO:
            return int(wanted)
        cores = _usable_cores()
        if cores < 2 or self.client is not None or self.session is not None:
            return 1
        if self.options.skip_unchanged:
            # Each worker would list the whole prefix (keeping its shard), and the listing is
            # most of a re-run: 50,000 files re-run in 7.5 s with 2 workers, 3.4 s with one.
            return 1
        self._peeked = Peeked(self._source())
        if await self._peeked.holds_more_than(AUTO_PROCESSES_MIN_FILES):
            return min(cores, MAX_AUTO_PROCESSES)
        return 1

    def _entries(self) -> AsyncIterator[FileEntry]:
        """The walk's entries, starting with those already peeked at."""
        return self._peeked if self._peeked is not None else self._source()

    async def _in_processes(self, count: int) -> None:
        credentials = None
        if self.session is not None:
            # The children cannot share a session object: hand them its resolved credentials.
            found = await self.session.get_credentials()
            if found is not None:
                frozen = await found.get_frozen_credentials()
                credentials = {
                    "aws_access_key_id": frozen.access_key,
                    "aws_secret_access_key": frozen.secret_key,
                    "aws_session_token": frozen.token,
                    "region_name": self.session.region_name,
                }
        if credentials is None and not await has_credentials(None):
            raise _no_credentials(self.bucket)
        await ProcessPool(self, count, credentials).execute()

    async def _with_client(self) -> None:
        options = self.options
        if self.client is None and not await has_credentials(self.session):
            raise _no_credentials(self.bucket)
        async with self._open_client() as client:
            self.limiter = RequestLimiter(options.concurrency, adaptive=options.adaptive)
            requests = Requests(
                client,
                self.bucket,
                self.limiter,
                max_attempts=options.max_attempts,
                backoff=self.backoff,
            )
            unchanged = None
            tasks = []
            if options.skip_unchanged:
                index = RemoteIndex(self.shard)
                tasks.append(index.load(requests, options.prefix))
                unchanged = UnchangedCheck(index, options.part_size)
            sender: Any
            if options.dry_run:
                sender = DryRunSender(unchanged)
            else:
                sender = S3Sender(
                    requests,
                    ByteBudget(options.buffer_bytes),
                    SendSettings(options.multipart_threshold, options.part_size, options.checksum),
                    self._on_bytes,
                    unchanged,
                )
            tasks.append(self._pipeline(sender))
            try:
                await run_together(*tasks)
            finally:
                if requests.stray_keys:
                    await asyncio.shield(sweep_strays(requests))

    @contextlib.asynccontextmanager
    async def _open_client(self) -> AsyncIterator[Any]:
        if self.client is not None:
            yield self.client  # the caller's: theirs to close
            return
        settings = ClientSettings(
            concurrency=self.options.concurrency,
            endpoint_url=self.options.endpoint_url,
            region=self.options.region,
            connect_timeout=self.options.connect_timeout,
            read_timeout=self.options.read_timeout,
            bodies_checksummed=self.options.checksum is not None,
        )
        async with open_client(settings, self.session) as client:
            yield client

    async def _pipeline(self, sender: Any) -> None:
        options = self.options

        async def upload(job: Job[FileEntry]) -> int:
            result: int = await sender(job)
            return result

        await run_pipeline(
            self._entries(),
            upload,
            workers=options.concurrency,
            max_attempts=options.max_attempts,
            on_outcome=self._on_outcome,
            on_retry=self._on_retry,
            backoff=self.backoff,
        )

    async def _source(self) -> AsyncIterator[FileEntry]:
        options = self.options
        entries = walk(
            self.root,
            prefix=options.prefix,
            path_filter=PathFilter(options.include, options.exclude),
            follow_symlinks=options.follow_symlinks,
            only=options.only,
        )
        tally = self.tally
        async for entry in stream(entries):
            tally.found += 1
            tally.bytes_found += entry.size
            self._emit("found", entry.path, 0)
            yield entry
        self.walk_finished = True
        self._emit("walk_finished", "", 0)

    def _on_bytes(self, entry: FileEntry, delta: int) -> None:
        self.bytes_done += delta
        self._emit("bytes", entry.path, delta)

    def _on_retry(self, entry: FileEntry, reason: str) -> None:
        self.live_retries += 1
        self._emit("retry", entry.path, 0)

    def _on_outcome(self, entry: FileEntry, outcome: Outcome) -> None:
        tally = self.tally
        status = outcome.status
        if status == "uploaded":
            tally.uploaded += 1
            tally.bytes_uploaded += entry.size
        elif status == "skipped":
            tally.skipped += 1
        else:
            tally.failed.append(FailedUpload(entry.path, entry.key, outcome.reason, outcome.attempts))
        if outcome.attempts > 1:
            tally.retries += outcome.attempts - 1
        if self._manifest is not None:
            self._manifest.write(
                path=entry.path,
                key=entry.key,
                size=entry.size,
                outcome=status,
                attempts=outcome.attempts,
                error=outcome.reason if status == "failed" else None,
                reason=outcome.reason if status == "skipped" else None,
            )
        self._emit(status, entry.path, 0)

    def _emit(self, kind: EventKind, path: str, delta: int) -> None:
        if self.on_progress is None:
            return
        tally = self.tally
        self.on_progress(
            ProgressEvent(
                kind=kind,
                path=path,
                bytes=delta,
                files_found=tally.found,
                files_done=tally.done,
                bytes_found=tally.bytes_found,
                bytes_done=self.bytes_done,
                failed=len(tally.failed),
                retries=self.live_retries,
                walk_finished=self.walk_finished,
            )
        )


class Peeked:
    """An async iterator whose first entries can be looked at before it is consumed."""

    def __init__(self, source: AsyncIterator[FileEntry]) -> None:
        self._source = source
        self._head: deque[FileEntry] = deque()

    async def holds_more_than(self, count: int) -> bool:
        """Read ahead (at most count + 1 entries held) to tell whether there are more than count."""
        async for entry in self._source:
            self._head.append(entry)
            if len(self._head) > count:
                return True
        return False

    def __aiter__(self) -> Peeked:
        return self

    async def __anext__(self) -> FileEntry:
        if self._head:
            return self._head.popleft()
        return await anext(self._source)


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _no_credentials(bucket: str) -> Exception:
    return destination_error(Verdict(Kind.FATAL, "", "NoCredentials", 0), bucket)


class _ChildRun(Run):
    """A worker process's run: entries come from the parent, outcomes go back to it."""

    def __init__(self, channel: ChildChannel, bucket: str, options: UploadOptions, session: Any) -> None:
        super().__init__("", bucket, options, session=session)
        self.channel = channel

    async def _source(self) -> AsyncIterator[FileEntry]:
        async for entry in self.channel.entries():
            yield entry

    def _on_outcome(self, entry: FileEntry, outcome: Outcome) -> None:
        sequence = self.channel.sequence(entry, final=True)
        self.channel.outbox.append(
            ("outcome", sequence, outcome.status, outcome.attempts, outcome.reason, entry.size)
        )

    def _on_bytes(self, entry: FileEntry, delta: int) -> None:
        self.channel.outbox.append(("bytes", self.channel.sequence(entry), delta))

    def _on_retry(self, entry: FileEntry, reason: str) -> None:
        self.channel.outbox.append(("retry", self.channel.sequence(entry), reason))


async def serve_parent(conn: Connection) -> None:
    """A worker process: run the pipeline on what the parent sends until told there is no more."""
    bucket, options, credentials, shard = conn.recv()
    channel = ChildChannel(conn)
    session = new_session(**credentials) if credentials else None
    run = _ChildRun(channel, bucket, options, session)
    run.shard = shard
    work = asyncio.ensure_future(run._with_client())
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, work.cancel)
    pump = asyncio.create_task(channel.pump())
    last: tuple[Any, ...]
    try:
        await work
        last = ("done",)
    except asyncio.CancelledError:
        last = ("done",)
    except DestinationError as exc:
        last = ("fatal", str(exc), exc.code)
    except Exception as exc:
        last = ("crash", f"{type(exc).__name__}: {exc}")
    channel.outbox.append(last)
    channel.finished.set()
    await pump
