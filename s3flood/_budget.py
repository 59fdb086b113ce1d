"""A byte budget: the bound on file bytes held in memory at once, across the whole run.

Every body larger than ``SMALL_BODY`` takes its size from the budget before it is read and
gives it back once its request has finished. So memory for bodies never exceeds
``capacity + workers * SMALL_BODY``, whatever the file sizes: that is the documented bound
(for multipart, parts in memory x part size <= capacity).
"""

from __future__ import annotations

import asyncio
from collections import deque

SMALL_BODY = 64 * 1024


class ByteBudget:
    """A weighted semaphore, first come first served so a large request is never starved."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("the byte budget must be at least one byte")
        self.capacity = capacity
        self._free = capacity
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()

    def _clamp(self, size: int) -> int:
        # A single request larger than the whole budget still goes, alone.
        return min(max(size, 0), self.capacity)

    async def acquire(self, size: int) -> int:
        """Take ``size`` bytes (clamped to the capacity); returns what to give back."""
        size = self._clamp(size)
        if not self._waiters and self._free >= size:
            self._free -= size
            return size
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (size, waiter)
        self._waiters.append(entry)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.release(size)  # granted just as we were cancelled: hand it on
            else:
                self._waiters.remove(entry)
                self._wake()
            raise
        return size

    def release(self, size: int) -> None:
        self._free += size
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self._waiters[0][0] <= self._free:
            size, waiter = self._waiters.popleft()
            self._free -= size
            waiter.set_result(None)
