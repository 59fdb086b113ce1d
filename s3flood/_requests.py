"""Every S3 request s3flood sends goes through here: the run-wide in-flight bound, the count of
requests sent, and the translation of failures into the engine's terms (Retry / GiveUp /
DestinationError) via the one classifier."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from typing import Any

from s3flood._classify import Kind, classify, destination_error
from s3flood._engine import Backoff, GiveUp, Retry
from s3flood._limiter import RequestLimiter


def requests_sent(response: Mapping[str, Any]) -> int:
    """1, plus any retries botocore made itself (only a caller's own client makes any)."""
    meta = response.get("ResponseMetadata") or {}
    return int(meta.get("RetryAttempts") or 0) + 1


class Requests:
    def __init__(
        self,
        client: Any,
        bucket: str,
        limiter: RequestLimiter,
        *,
        max_attempts: int,
        backoff: Backoff,
        rng: random.Random | None = None,
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.limiter = limiter
        self.max_attempts = max_attempts
        self.backoff = backoff
        self._rng = rng or random.Random()
        self.anything_written = False
        self.stray_keys: set[str] = set()  # multipart keys whose create needed retries

    async def call(self, operation: str, attempts_before: int, **params: Any) -> tuple[Any, int]:
        """Send one request; returns (response, requests sent) or raises Retry/GiveUp/fatal."""
        method = getattr(self.client, operation)
        async with self.limiter:
            try:
                response = await method(Bucket=self.bucket, **params)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.limiter.on_failure(throttled=_is_throttle(exc))
                raise self.translate(exc, attempts_before) from exc
        self.limiter.on_success()
        return response, requests_sent(response)

    async def call_retrying(self, operation: str, **params: Any) -> tuple[Any, int]:
        """One request retried in place (for the parts of a multipart upload); returns
        (response, requests sent); GiveUp once ``max_attempts`` requests have failed."""
        attempts = 0
        while True:
            try:
                response, sent = await self.call(operation, attempts, **params)
            except Retry as exc:
                attempts += exc.attempts
                if attempts >= self.max_attempts:
                    raise GiveUp(exc.reason, attempts=attempts) from exc
                await asyncio.sleep(self.backoff.delay(attempts, self._rng))
            else:
                return response, attempts + sent

    def translate(self, exc: Exception, attempts_before: int) -> Exception:
        verdict = classify(exc, anything_written=self.anything_written)
        if verdict.kind is Kind.FATAL:
            return destination_error(verdict, self.bucket)
        if verdict.kind is Kind.RETRY:
            out_of_attempts = attempts_before + verdict.requests >= self.max_attempts
            if out_of_attempts and verdict.code == "ConnectionError" and not self.anything_written:
                # Nothing has ever reached the store: the endpoint is unreachable, not this file.
                return destination_error(verdict, self.bucket)
            return Retry(verdict.reason, attempts=verdict.requests)
        return GiveUp(verdict.reason, attempts=verdict.requests)


def _is_throttle(exc: Exception) -> bool:
    response = getattr(exc, "response", None)
    if not isinstance(response, Mapping):
        return False
    code = (response.get("Error") or {}).get("Code")
    status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
    return code in {"SlowDown", "Throttling", "ThrottlingException", "TooManyRequests"} or status in {
        429,
        503,
    }
