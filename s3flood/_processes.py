"""Several worker processes, each with its own event loop, client and worker pool, fed from one
walk in the parent; their outcomes merge into the parent's one report.

Why: a small PUT costs ~0.9 ms of client CPU in botocore's pipeline, so one Python process tops
out near one core. Processes are the way to use the others.

    parent: walk ──► feeder ──(batches of entries, by pipe)──► child 1..N: engine + S3 sender
            report ◄── collectors ◄──(batches of outcomes, bytes, retries)──┘

- Flow control: the parent hands a child a batch only while the child holds fewer than its
  limit of entries without an outcome, so memory stays bounded in both processes.
- Every entry handed out is remembered until its outcome comes back. A child that dies, or a
  run that is cancelled, still leaves each of those entries with an outcome.
- ``concurrency`` and the byte budget are split between the children: the bounds hold for the
  run as a whole.
- With ``skip_unchanged`` each child lists the prefix but keeps only its shard of the keys
  (by a stable hash), and entries are routed to the child holding their shard.
- Ctrl-C reaches the whole process group; children ignore SIGINT and are stopped by the
  parent with SIGTERM, on which they cancel their pipeline (aborting multipart uploads) and
  report what they finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import multiprocessing
import subprocess
import sys
import zlib
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from s3flood._engine import INTERRUPTED, Outcome
from s3flood._errors import DestinationError, S3FloodError
from s3flood._walk import FileEntry

if TYPE_CHECKING:
    from s3flood._run import Run

BATCH = 64
FLUSH_SECONDS = 0.02
_STOP_TIMEOUT = 20.0


async def receive(conn: Connection) -> Any:
    """The next message, waiting on the event loop (no thread: a thread blocked in recv()
    cannot be cancelled, and would keep a stopping process alive)."""
    loop = asyncio.get_running_loop()
    while not conn.poll():
        readable: asyncio.Future[None] = loop.create_future()
        loop.add_reader(conn.fileno(), _wake, readable)
        try:
            await readable
        finally:
            loop.remove_reader(conn.fileno())
    return conn.recv()


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


# Sends are plain conn.send() calls on the loop: one writer per pipe end, never two at once,
# and flow control keeps what is in flight far below the pipe's buffer, so they do not block.


def shard_of(key: str, count: int) -> int:
    """Which of ``count`` children owns ``key`` (stable across processes, unlike hash())."""
    return zlib.crc32(key.encode("utf-8", "surrogateescape")) % count


def split(total: int, count: int, index: int) -> int:
    """Child ``index``'s share of ``total`` (at least 1)."""
    return max(1, total // count + (1 if index < total % count else 0))


@dataclass
class _Child:
    index: int
    process: subprocess.Popen[bytes]
    conn: Connection
    limit: int
    outstanding: dict[int, FileEntry] = field(default_factory=dict)
    space: asyncio.Condition = field(default_factory=asyncio.Condition)


class ProcessPool:
    def __init__(self, run: Run, count: int, credentials: dict[str, str] | None) -> None:
        self.run = run
        self.count = count
        self.credentials = credentials
        self.children: list[_Child] = []

    def _start(self) -> None:
        # Workers are started as `python -m s3flood._worker`, not with multiprocessing's
        # spawn, which would re-import the caller's __main__ (and break every script that
        # lacks an `if __name__ == "__main__"` guard). The pipe end is an inherited fd.
        options = self.run.options
        for index in range(self.count):
            concurrency = split(options.concurrency, self.count, index)
            child_options = dataclasses.replace(
                options,
                concurrency=concurrency,
                buffer_bytes=split(options.buffer_bytes, self.count, index),
                manifest=None,
                processes=1,
            )
            shard = (index, self.count) if options.skip_unchanged else None
            parent_end, child_end = multiprocessing.Pipe()
            process = subprocess.Popen(
                [sys.executable, "-m", "s3flood._worker", str(child_end.fileno())],
                pass_fds=[child_end.fileno()],
            )
            child_end.close()
            parent_end.send((self.run.bucket, child_options, self.credentials, shard))
            self.children.append(_Child(index, process, parent_end, limit=2 * concurrency + BATCH))

    async def execute(self) -> None:
        self._start()
        collectors = [asyncio.create_task(self._collect(child)) for child in self.children]
        feeder = asyncio.create_task(self._feed())
        try:
            done, _ = await asyncio.wait([feeder, *collectors], return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                if task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
            for child in self.children:  # reap them: no zombies, and their CPU is accounted
                await asyncio.to_thread(child.process.wait, _STOP_TIMEOUT)
        except BaseException:
            feeder.cancel()
            await asyncio.shield(self._stop(collectors))
            raise
        finally:
            for child in self.children:
                child.conn.close()

    async def _stop(self, collectors: list[asyncio.Task[None]]) -> None:
        """Tell every child to stop, take in what they finished, account for the rest."""
        for child in self.children:
            if child.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    child.process.terminate()
        done, _ = await asyncio.wait(collectors, timeout=_STOP_TIMEOUT)
        for task in done:
            if not task.cancelled():
                task.exception()  # retrieved: the first error is already on its way up
        for child in self.children:
            for entry in child.outstanding.values():
                self.run._on_outcome(entry, Outcome("failed", 0, INTERRUPTED))
            child.outstanding.clear()
            try:
                await asyncio.to_thread(child.process.wait, 5)
            except subprocess.TimeoutExpired:
                child.process.kill()

    async def _feed(self) -> None:
        sequence = 0
        batches: dict[int, list[tuple[int, FileEntry]]] = {}
        routed = self.run.options.skip_unchanged
        async for entry in self.run._entries():
            sequence += 1
            index = shard_of(entry.key, self.count) if routed else -1
            batch = batches.setdefault(index, [])
            batch.append((sequence, entry))
            if len(batch) >= BATCH:
                await self._send(batches.pop(index), index)
        for index, batch in batches.items():
            await self._send(batch, index)
        for child in self.children:
            child.conn.send(None)

    async def _send(self, batch: list[tuple[int, FileEntry]], index: int) -> None:
        # Routed (a shard's owner) or to whichever child has the least to do.
        child = self.children[index] if index >= 0 else min(self.children, key=lambda c: len(c.outstanding))
        async with child.space:
            await child.space.wait_for(lambda: len(child.outstanding) + len(batch) <= child.limit)
        child.outstanding.update(batch)
        child.conn.send(batch)

    async def _collect(self, child: _Child) -> None:
        run = self.run
        while True:
            try:
                messages = await receive(child.conn)
            except (EOFError, OSError):
                with contextlib.suppress(subprocess.TimeoutExpired):
                    await asyncio.to_thread(child.process.wait, 5)
                raise S3FloodError(
                    f"worker process {child.index} exited unexpectedly (exit code {child.process.returncode})"
                ) from None
            for message in messages:
                kind = message[0]
                if kind == "outcome":
                    _, sequence, status, attempts, reason, size = message
                    entry = child.outstanding.pop(sequence)
                    entry.size = size
                    run._on_outcome(entry, Outcome(status, attempts, reason))
                elif kind == "bytes":
                    run._on_bytes(child.outstanding[message[1]], message[2])
                elif kind == "retry":
                    run._on_retry(child.outstanding[message[1]], message[2])
                elif kind == "fatal":
                    raise DestinationError(message[1], code=message[2])
                elif kind == "crash":
                    raise S3FloodError(f"worker process {child.index} failed: {message[1]}")
                elif kind == "done":
                    return
            async with child.space:
                child.space.notify_all()


class ChildChannel:
    """The child's side: entries in, messages out in batches."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.outbox: list[tuple[Any, ...]] = []
        self.sequence_of: dict[int, int] = {}  # id(entry) -> the parent's sequence number
        self.finished = asyncio.Event()

    async def entries(self) -> Any:
        while True:
            batch = await receive(self.conn)
            if batch is None:
                return
            for sequence, entry in batch:
                self.sequence_of[id(entry)] = sequence
                yield entry

    def sequence(self, entry: FileEntry, *, final: bool = False) -> int:
        if final:
            return self.sequence_of.pop(id(entry))
        return self.sequence_of[id(entry)]

    def flush(self) -> None:
        if self.outbox:
            batch, self.outbox = self.outbox, []
            self.conn.send(batch)

    async def pump(self) -> None:
        """Send what has piled up every few milliseconds; after ``finished``, once more, then stop."""
        while not self.finished.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.finished.wait(), FLUSH_SECONDS)
            self.flush()
