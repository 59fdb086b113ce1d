"""The pipeline with a fake uploader: outcomes, bounds, deadlock and early-finish regressions."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from s3flood._engine import INTERRUPTED, NO_BACKOFF, Backoff, GiveUp, Job, Outcome, Retry, Skip, run_pipeline
from s3flood._limiter import RequestLimiter

Step = str  # "ok" | "retry" | "giveup" | "skip"
DEADLINE = 20.0


class Fatal(Exception):
    pass


@dataclass
class FakeUploader:
    """Plays a per-item schedule of results and records how many uploads ran at once."""

    schedules: Mapping[int, Sequence[Step]]
    delay: float = 0.0
    running: int = 0
    max_running: int = 0
    calls: dict[int, int] = field(default_factory=dict)

    async def __call__(self, job: Job[int]) -> int:
        item = job.item
        call = self.calls.get(item, 0)
        self.calls[item] = call + 1
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        try:
            await asyncio.sleep(self.delay)
            schedule = self.schedules.get(item, ())
            step = schedule[call] if call < len(schedule) else "ok"
            if step == "retry":
                raise Retry(f"transient {item}")
            if step == "giveup":
                raise GiveUp(f"permanent {item}")
            if step == "skip":
                raise Skip("skip")
            if step == "fatal":
                raise Fatal(item)
            return 1
        finally:
            self.running -= 1


def expected(schedule: Sequence[Step], max_attempts: int) -> tuple[str, int]:
    attempts = 0
    for step in schedule:
        if step == "ok":
            return "uploaded", attempts + 1
        if step == "skip":
            return "skipped", attempts
        attempts += 1
        if step == "giveup":
            return "failed", attempts
        if attempts >= max_attempts:
            return "failed", attempts
    return "uploaded", attempts + 1


async def items(n: int) -> AsyncIterator[int]:
    for i in range(n):
        yield i
        if i % 7 == 0:
            await asyncio.sleep(0)


async def run(
    uploader: FakeUploader,
    n: int,
    *,
    workers: int,
    max_attempts: int,
    admission: int | None = None,
    error_queue_size: int | None = None,
    backoff: Backoff = NO_BACKOFF,
) -> dict[int, list[Outcome]]:
    outcomes: dict[int, list[Outcome]] = {}

    def record(item: int, outcome: Outcome) -> None:
        outcomes.setdefault(item, []).append(outcome)

    async with asyncio.timeout(DEADLINE):  # a deadlock fails the test instead of hanging CI
        await run_pipeline(
            items(n),
            uploader,
            workers=workers,
            max_attempts=max_attempts,
            on_outcome=record,
            admission=admission,
            error_queue_size=error_queue_size,
            backoff=backoff,
            rng=random.Random(0),
        )
    return outcomes


STEPS = st.sampled_from(["ok", "retry", "retry", "giveup", "skip"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(0, 120),
    workers=st.integers(1, 12),
    max_attempts=st.integers(1, 5),
    admission=st.one_of(st.none(), st.integers(1, 8)),
    error_queue_size=st.one_of(st.none(), st.integers(1, 3)),
    seed=st.integers(0, 2**32 - 1),
    data=st.data(),
)
def test_every_item_gets_exactly_its_one_outcome(
    n: int,
    workers: int,
    max_attempts: int,
    admission: int | None,
    error_queue_size: int | None,
    seed: int,
    data: st.DataObject,
) -> None:
    schedules = {i: data.draw(st.lists(STEPS, max_size=7)) for i in range(n)}
    uploader = FakeUploader(schedules)
    outcomes = asyncio.run(
        run(
            uploader,
            n,
            workers=workers,
            max_attempts=max_attempts,
            admission=admission,
            error_queue_size=error_queue_size,
        )
    )
    assert sorted(outcomes) == list(range(n))
    for item, recorded in outcomes.items():
        assert len(recorded) == 1, f"item {item} finished {len(recorded)} times"
        status, attempts = expected(schedules[item], max_attempts)
        assert (recorded[0].status, recorded[0].attempts) == (status, attempts), item
    assert uploader.max_running <= workers


@pytest.mark.parametrize("workers", [1, 3, 100])
async def test_never_more_than_workers_at_once_and_the_limit_is_reached(workers: int) -> None:
    uploader = FakeUploader({}, delay=0.01)
    outcomes = await run(uploader, 400, workers=workers, max_attempts=3)
    assert len(outcomes) == 400
    assert uploader.max_running == workers


@pytest.mark.parametrize(
    ("workers", "admission", "error_queue_size"), [(1, 1, 1), (2, 2, 1), (4, 1, 1), (8, 3, 2)]
)
async def test_tiny_bounds_with_every_item_failing_first_still_complete(
    workers: int, admission: int, error_queue_size: int
) -> None:
    """The circular-flow deadlock regression: work full, workers blocked on errors, retry blocked."""
    schedules = {i: ["retry", "retry", "retry"] for i in range(300)}
    outcomes = await run(
        FakeUploader(schedules),
        300,
        workers=workers,
        max_attempts=4,
        admission=admission,
        error_queue_size=error_queue_size,
    )
    assert all(o[0].status == "uploaded" and o[0].attempts == 4 for o in outcomes.values())
    assert len(outcomes) == 300


async def test_no_early_finish_while_retries_wait_out_their_backoff() -> None:
    """The early-finish regression: the last items are in the retry lane when the rest is done."""
    schedules = {i: ["retry"] for i in range(95, 100)}
    outcomes = await run(
        FakeUploader(schedules), 100, workers=10, max_attempts=2, backoff=Backoff(base=0.2, cap=0.2)
    )
    assert len(outcomes) == 100
    assert all(o[0].status == "uploaded" for o in outcomes.values())


async def test_out_of_attempts_fails_with_the_last_reason_and_count() -> None:
    outcomes = await run(FakeUploader({0: ["retry"] * 10}), 1, workers=2, max_attempts=3)
    assert outcomes[0][0] == Outcome("failed", 3, "transient 0")


async def test_fatal_error_stops_the_run_promptly_and_leaves_no_task() -> None:
    schedules = {50: ["fatal"]}
    uploader = FakeUploader(schedules, delay=0.001)
    before = asyncio.all_tasks()
    with pytest.raises(Fatal):
        await run(uploader, 10_000, workers=4, max_attempts=3)
    assert sum(uploader.calls.values()) < 200
    assert asyncio.all_tasks() == before


async def test_cancellation_leaves_no_task_behind_and_accounts_for_every_admitted_item() -> None:
    uploader = FakeUploader({i: ["retry"] for i in range(0, 1000, 3)}, delay=0.001)
    admitted: set[int] = set()
    outcomes: dict[int, list[Outcome]] = {}

    async def source() -> AsyncIterator[int]:
        async for i in items(1000):
            admitted.add(i)
            yield i

    def record(item: int, outcome: Outcome) -> None:
        outcomes.setdefault(item, []).append(outcome)

    before = asyncio.all_tasks()
    task = asyncio.create_task(
        run_pipeline(
            source(), uploader, workers=20, max_attempts=3, on_outcome=record, backoff=Backoff(0.05, 0.05)
        )
    )
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert uploader.running == 0
    assert asyncio.all_tasks() == before
    assert set(outcomes) == admitted
    assert all(len(o) == 1 for o in outcomes.values())
    interrupted = [o[0] for o in outcomes.values() if o[0].reason == INTERRUPTED]
    assert interrupted
    assert all(o.status == "failed" for o in interrupted)


async def test_memory_is_bounded_by_admission_not_by_the_source() -> None:
    """The producer never runs ahead of admission: pulled items <= done + admission."""
    pulled = 0
    done = 0
    worst_gap = 0

    async def source() -> AsyncIterator[int]:
        nonlocal pulled, worst_gap
        for i in range(5000):
            pulled += 1
            worst_gap = max(worst_gap, pulled - done)
            yield i

    def record(item: int, outcome: Outcome) -> None:
        nonlocal done
        done += 1

    async with asyncio.timeout(DEADLINE):
        await run_pipeline(
            source(), FakeUploader({}), workers=8, max_attempts=2, on_outcome=record, admission=16
        )
    assert done == 5000
    assert worst_gap <= 16 + 1


def test_bad_arguments_are_value_errors() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        asyncio.run(run(FakeUploader({}), 1, workers=0, max_attempts=1))
    with pytest.raises(ValueError, match="at least 1"):
        asyncio.run(run(FakeUploader({}), 1, workers=1, max_attempts=0))


def test_backoff_grows_and_is_capped_with_jitter() -> None:
    rng = random.Random(1)
    backoff = Backoff(base=0.1, cap=1.0)
    samples = [backoff.delay(n, rng) for n in range(1, 12) for _ in range(50)]
    assert all(0 <= s <= 1.0 for s in samples)
    assert max(backoff.delay(1, rng) for _ in range(100)) <= 0.1
    assert NO_BACKOFF.delay(5, rng) == 0


def test_one_throttle_signal_cuts_a_paced_rate_at_most_in_half() -> None:
    limiter = RequestLimiter(10)
    limiter.rate = 80.0
    for _ in range(12):  # answers lag behind: the store seems to accept 12/s
        limiter.on_success()
    limiter.on_failure(throttled=True)
    assert limiter.rate == pytest.approx(80.6 * 0.5)


async def test_the_first_cut_trusts_no_accepted_rate_read_from_too_few_answers() -> None:
    limiter = RequestLimiter(100)
    for _ in range(50):  # a first burst of 50 requests
        async with limiter:
            pass
    await asyncio.sleep(0.3)
    for _ in range(3):  # only 3 answers back so far: "10/s accepted" would be a wild under-read
        limiter.on_success()
    limiter.on_failure(throttled=True)
    assert limiter.rate is not None
    assert limiter.rate > 50  # 0.7 x what was sent (~160/s), not 0.9 x 10/s
