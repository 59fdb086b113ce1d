"""The pipeline, generic over an ``upload(job)`` coroutine; it knows nothing of S3.

    source ──► producer ──► work queue ──► N workers ──► upload(job)
                                 ▲              │ Retry
                                 │              ▼
                            retry lane ◄── bounded error queue

Why it cannot deadlock or finish early:
- Bound at admission: the producer takes a slot before a job enters the pipeline, and the slot
  is given back only at the job's final outcome. Retries keep their slot. So the work queue
  never holds more than ``admission`` jobs and is unbounded in type: putting into it never
  blocks, and the retry lane (which only ever blocks on the error queue) always drains.
- One definition of done: the source is exhausted and no admitted job is unfinished.
- One owner: every task lives in one TaskGroup; the run returns only once all have exited, and
  an exception or cancellation anywhere tears everything down.

What ``upload`` may do:
- return the number of requests it sent: the job is done;
- raise ``Skip``: done, deliberately not sent;
- raise ``Retry``: sent ``attempts`` requests and may succeed later; retried after a backoff
  with jitter until the job has used ``max_attempts`` requests, then it fails with that reason;
- raise ``GiveUp``: fails now, with its reason;
- raise anything else: fatal to the run; it propagates to the caller after teardown.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
from collections.abc import AsyncIterable, Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

T = TypeVar("T")


class Retry(Exception):
    """A transient failure: worth another try after a pause."""

    def __init__(self, reason: str, *, attempts: int = 1) -> None:
        super().__init__(reason)
        self.reason = reason
        self.attempts = attempts


class GiveUp(Exception):
    """A permanent failure of this one job."""

    def __init__(self, reason: str, *, attempts: int = 1) -> None:
        super().__init__(reason)
        self.reason = reason
        self.attempts = attempts


class Skip(Exception):
    """The job is deliberately not sent."""

    def __init__(self, reason: str, *, attempts: int = 0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.attempts = attempts


@dataclass(slots=True, eq=False)  # identity, so that pending jobs can live in a set
class Job(Generic[T]):
    item: T
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class Outcome:
    status: Literal["uploaded", "skipped", "failed"]
    attempts: int
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with full jitter: a pause drawn from [0, min(cap, base * 2**(n-1))]."""

    base: float = 0.1
    cap: float = 10.0

    def delay(self, attempts: int, rng: random.Random) -> float:
        if self.base <= 0:
            return 0.0
        return rng.uniform(0.0, min(self.cap, self.base * 2 ** (attempts - 1)))


INTERRUPTED = "interrupted before it finished"
DEFAULT_BACKOFF = Backoff()
NO_BACKOFF = Backoff(base=0.0)


async def run_pipeline(
    source: AsyncIterable[T],
    upload: Callable[[Job[T]], Awaitable[int]],
    *,
    workers: int,
    max_attempts: int,
    on_outcome: Callable[[T, Outcome], None],
    on_retry: Callable[[T, str], None] | None = None,
    admission: int | None = None,
    error_queue_size: int | None = None,
    backoff: Backoff = DEFAULT_BACKOFF,
    rng: random.Random | None = None,
) -> None:
    """Run every item of ``source`` through ``upload``; report each final outcome exactly once."""
    if workers < 1 or max_attempts < 1:
        raise ValueError("workers and max_attempts must be at least 1")
    admission = admission if admission is not None else 2 * workers
    if admission < 1:
        raise ValueError("admission must be at least 1")
    pipeline = _Pipeline(
        upload,
        max_attempts=max_attempts,
        on_outcome=on_outcome,
        on_retry=on_retry,
        admission=admission,
        error_queue_size=error_queue_size or workers,
        backoff=backoff,
        rng=rng or random.Random(),
    )
    await pipeline.run(source, workers)


class _Pipeline(Generic[T]):
    def __init__(
        self,
        upload: Callable[[Job[T]], Awaitable[int]],
        *,
        max_attempts: int,
        on_outcome: Callable[[T, Outcome], None],
        on_retry: Callable[[T, str], None] | None,
        admission: int,
        error_queue_size: int,
        backoff: Backoff,
        rng: random.Random,
    ) -> None:
        self.upload = upload
        self.max_attempts = max_attempts
        self.on_outcome = on_outcome
        self.on_retry = on_retry
        self.backoff = backoff
        self.rng = rng
        self.slots = asyncio.Semaphore(admission)
        self.work: asyncio.Queue[Job[T]] = asyncio.Queue()  # bounded by admission
        self.errors: asyncio.Queue[Job[T]] = asyncio.Queue(error_queue_size)
        self.pending: set[Job[T]] = set()  # admitted, no outcome yet
        self.source_exhausted = False
        self.all_done = asyncio.Event()

    async def run(self, source: AsyncIterable[T], workers: int) -> None:
        try:
            async with asyncio.TaskGroup() as group:
                helpers = [group.create_task(self.retry_lane())]
                helpers += [group.create_task(self.worker()) for _ in range(workers)]
                producer = group.create_task(self.produce(source))
                await self.all_done.wait()
                await producer
                for task in helpers:
                    task.cancel()
        except BaseExceptionGroup as group_error:
            # The first real error is what the caller needs; the rest are its echoes.
            raise first_cause(group_error) from None
        except asyncio.CancelledError:
            # Even a cancelled run accounts for every file it admitted.
            for job in list(self.pending):
                self.finish(job, Outcome("failed", job.attempts, INTERRUPTED))
            raise

    def finish(self, job: Job[T], outcome: Outcome) -> None:
        self.pending.discard(job)
        self.slots.release()
        if self.source_exhausted and not self.pending:
            self.all_done.set()
        self.on_outcome(job.item, outcome)

    async def produce(self, source: AsyncIterable[T]) -> None:
        # The slot is taken before the next item is pulled, never after: an item pulled
        # and then cancelled while waiting for a slot would be found but never finished.
        items = aiter(source)
        while True:
            await self.slots.acquire()
            try:
                item = await anext(items)
            except StopAsyncIteration:
                self.slots.release()
                break
            job = Job(item)
            self.pending.add(job)
            self.work.put_nowait(job)
        self.source_exhausted = True
        if not self.pending:
            self.all_done.set()

    async def worker(self) -> None:
        while True:
            job = await self.work.get()
            try:
                sent = await self.upload(job)
            except Retry as exc:
                job.attempts += exc.attempts
                if job.attempts >= self.max_attempts:
                    self.finish(job, Outcome("failed", job.attempts, exc.reason))
                    continue
                if self.on_retry is not None:
                    self.on_retry(job.item, exc.reason)
                await self.errors.put(job)
            except GiveUp as exc:
                job.attempts += exc.attempts
                self.finish(job, Outcome("failed", job.attempts, exc.reason))
            except Skip as exc:
                job.attempts += exc.attempts
                self.finish(job, Outcome("skipped", job.attempts, exc.reason))
            else:
                job.attempts += sent
                self.finish(job, Outcome("uploaded", job.attempts))

    async def retry_lane(self) -> None:
        """A delay line: jobs wait here, off the workers, until their backoff has passed.
        It blocks only on the error queue; putting into the work queue never blocks."""
        loop = asyncio.get_running_loop()
        delayed: list[tuple[float, int, Job[T]]] = []
        order = itertools.count()
        while True:
            while delayed and delayed[0][0] <= loop.time():
                self.work.put_nowait(heapq.heappop(delayed)[2])
            try:
                async with asyncio.timeout_at(delayed[0][0] if delayed else None):
                    job = await self.errors.get()
            except TimeoutError:
                continue
            due = loop.time() + self.backoff.delay(job.attempts, self.rng)
            heapq.heappush(delayed, (due, next(order), job))


async def run_together(*coroutines: Coroutine[Any, Any, None]) -> None:
    """Run coroutines as one unit: all finish, or the first error cancels the rest and is raised."""
    try:
        async with asyncio.TaskGroup() as group:
            for coroutine in coroutines:
                group.create_task(coroutine)
    except BaseExceptionGroup as group_error:
        raise first_cause(group_error) from None


def first_cause(group: BaseExceptionGroup[BaseException]) -> BaseException:
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            return first_cause(exc)
        if not isinstance(exc, asyncio.CancelledError):
            return exc
    return group.exceptions[0]
