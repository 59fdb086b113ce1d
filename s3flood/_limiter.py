"""The run-wide bound on S3 requests in flight (``concurrency``), parts included."""

from __future__ import annotations

import asyncio
from types import TracebackType


class RequestLimiter:
    """An async context manager admitting at most ``limit`` requests at once.

    ``on_success`` / ``on_failure`` are where the throttling response hooks in.
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("the request limit must be at least 1")
        self.limit = limit
        self._semaphore = asyncio.Semaphore(limit)
        self.in_flight = 0
        self.max_in_flight = 0

    async def __aenter__(self) -> None:
        await self._semaphore.acquire()
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.in_flight -= 1
        self._semaphore.release()

    def on_success(self) -> None:
        pass

    def on_failure(self, *, throttled: bool) -> None:
        pass
