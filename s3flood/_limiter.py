"""The run-wide bound on S3 requests: at most ``limit`` in flight (``concurrency``, parts
included), and, once the store says SlowDown, a paced rate that adapts (AIMD).

Why a rate and not only fewer requests in flight: against a store that answers in a
millisecond, even one request in flight can exceed what it accepts. So throttling is answered
with a token-bucket pace:
- on a throttle answer (SlowDown, 503, 429): the rate becomes 0.9 x what the store *accepted*
  over the last second (what was sent counts throttled retries too, and cutting from that
  took several rounds to get below the store's rate: measured, 55% of it on average), or
  0.7 x the current rate when fewer than 10 answers came back in that second; never higher
  than it was, and once paced never below half of it; at most once per 200 ms, so one burst
  of throttles arriving together counts as one signal;
- on every success: the rate grows by 0.05 requests/s, i.e. about 5% per second while
  requests succeed;
- once the rate is well above what is being sent (the limit no longer binds), it is dropped.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from types import TracebackType

DECREASE = 0.7
BELOW_ACCEPTED = 0.9
MAX_CUT = 0.5
MIN_EVIDENCE = 10  # answers in the window before the accepted rate is believed
INCREASE_PER_SUCCESS = 0.05
MIN_RATE = 1.0
_SIGNAL_GAP = 0.2
_WINDOW = 1.0


class RequestLimiter:
    def __init__(self, limit: int, *, adaptive: bool = True) -> None:
        if limit < 1:
            raise ValueError("the request limit must be at least 1")
        self.limit = limit
        self.adaptive = adaptive
        self.rate: float | None = None  # requests/s; None: not paced
        self.in_flight = 0
        self.max_in_flight = 0
        self.throttles = 0
        self._semaphore = asyncio.Semaphore(limit)
        self._next_start = 0.0
        self._starts: deque[float] = deque()
        self._successes: deque[float] = deque()
        self._first_start: float | None = None
        self._last_decrease = float("-inf")

    async def __aenter__(self) -> None:
        await self._semaphore.acquire()
        try:
            if self.rate is not None:
                await self._pace()
        except BaseException:
            self._semaphore.release()
            raise
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        if self.adaptive:
            now = time.monotonic()
            if self._first_start is None:
                self._first_start = now
            starts = self._starts
            starts.append(now)
            while starts[0] < now - _WINDOW:
                starts.popleft()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.in_flight -= 1
        self._semaphore.release()

    async def _pace(self) -> None:
        assert self.rate is not None
        now = time.monotonic()
        start = max(now, self._next_start)
        self._next_start = start + 1.0 / self.rate
        if start > now:
            await asyncio.sleep(start - now)

    def on_success(self) -> None:
        if not self.adaptive:
            return
        now = time.monotonic()
        successes = self._successes
        successes.append(now)
        while successes[0] < now - _WINDOW:
            successes.popleft()
        if self.rate is None:
            return
        self.rate += INCREASE_PER_SUCCESS
        if self.rate > 2 * max(len(self._starts), 1) / _WINDOW and self.rate > 100:
            self.rate = None  # well above demand: pacing no longer does anything

    def on_failure(self, *, throttled: bool) -> None:
        if not throttled or not self.adaptive:
            return
        self.throttles += 1
        now = time.monotonic()
        if now - self._last_decrease < _SIGNAL_GAP:
            return
        self._last_decrease = now
        while self._successes and self._successes[0] < now - _WINDOW:
            self._successes.popleft()
        span = min(_WINDOW, now - (self._first_start or now)) or _WINDOW
        accepted = len(self._successes) / span
        current = self.rate if self.rate is not None else max(len(self._starts) / span, MIN_RATE)
        # Too few answers yet (the first burst, when the accepted requests have not come back)
        # and the accepted rate reads far too low: a test saw 80/s taken for 6/s, then a minute
        # of slow regrowth. Then cut what was sent instead.
        trusted = len(self._successes) >= MIN_EVIDENCE and accepted >= MIN_RATE
        target = accepted * BELOW_ACCEPTED if trusted else current * DECREASE
        if self.rate is not None:
            # Successes are counted when their answers arrive: a latency spike makes the store
            # look like it accepts far less than it does. Once paced, one signal cuts at most
            # in half (a test saw 80/s collapse to 15/s in a single cut without this).
            target = max(target, self.rate * MAX_CUT)
        self.rate = max(MIN_RATE, min(target, current))
