"""The one place that decides what an exception from S3 means for the run.

- RETRY: worth another request after a pause (throttling, 5xx, timeouts, resets, a body
  corrupted in flight that the server rejected by its checksum).
- FILE: this file cannot be stored, the others can (too large, bad argument, ...).
- FATAL: the run cannot write at all; continuing would only fail every file.

``AccessDenied`` is special: a policy may deny one key and allow the rest, so it is fatal only
while nothing has been written yet in the run (the run "cannot write at all"); afterwards it is
a per-file failure.
"""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass

import aiohttp
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
    ReadTimeoutError,
    SSLError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

from s3flood._errors import DestinationError


class Kind(enum.Enum):
    RETRY = "retry"
    FILE = "file"
    FATAL = "fatal"


@dataclass(frozen=True, slots=True)
class Verdict:
    kind: Kind
    reason: str
    code: str
    requests: int  # requests this call sent, botocore's own retries included


FATAL_CODES = frozenset(
    {
        "NoSuchBucket",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "TokenRefreshRequired",
        "InvalidToken",
        "AccountProblem",
        "AllAccessDisabled",
        "InvalidBucketName",
        "AuthorizationHeaderMalformed",
        "PermanentRedirect",
        "InvalidRequest_Region",
    }
)
RETRY_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestThrottled",
        "TooManyRequests",
        "ServiceUnavailable",
        "InternalError",
        "RequestTimeout",
        "RequestTimeoutException",
        "BadDigest",
        "XAmzContentSHA256Mismatch",
        "XAmzContentChecksumMismatch",
        "InvalidChecksum",
        "IncompleteBody",
        "OperationAborted",
    }
)
_HINTS = {
    "NoSuchBucket": "check the bucket name, or create the bucket first",
    "InvalidAccessKeyId": "check AWS_ACCESS_KEY_ID or the profile's credentials",
    "SignatureDoesNotMatch": "check the secret key and the region",
    "ExpiredToken": "refresh the session credentials",
    "AccessDenied": "check the bucket policy and the credentials' permissions",
    "AuthorizationHeaderMalformed": "check the region",
    "PermanentRedirect": "the bucket lives in another region: pass --region",
    "TLSVerificationFailed": "the server's certificate is not trusted: point AWS_CA_BUNDLE at its CA",
}


def classify(exc: BaseException, *, anything_written: bool) -> Verdict:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        meta = exc.response.get("ResponseMetadata", {})
        code = str(error.get("Code") or meta.get("HTTPStatusCode") or "Unknown")
        status = int(meta.get("HTTPStatusCode") or 0)
        message = str(error.get("Message") or "").strip()
        requests = int(meta.get("RetryAttempts") or 0) + 1
        reason = f"{code}: {message}" if message and message != code else code
        if code in FATAL_CODES or (code == "AccessDenied" and not anything_written):
            return Verdict(Kind.FATAL, reason, code, requests)
        if code in RETRY_CODES or status >= 500 or status == 429:
            return Verdict(Kind.RETRY, reason, code, requests)
        return Verdict(Kind.FILE, reason, code, requests)
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return Verdict(Kind.FATAL, str(exc), "NoCredentials", 0)
    if isinstance(exc, SSLError):
        return Verdict(Kind.FATAL, _describe(exc), "TLSVerificationFailed", 1)
    if isinstance(exc, (BotoConnectionError, HTTPClientError, ReadTimeoutError)):
        return Verdict(Kind.RETRY, _describe(exc), "ConnectionError", 1)
    if isinstance(exc, (aiohttp.ClientError, ConnectionError, TimeoutError, asyncio.TimeoutError)):
        return Verdict(Kind.RETRY, _describe(exc), "ConnectionError", 1)
    if isinstance(exc, BotoCoreError):
        return Verdict(Kind.FILE, _describe(exc), type(exc).__name__, 1)
    return Verdict(Kind.FILE, _describe(exc), type(exc).__name__, 1)


def destination_error(verdict: Verdict, bucket: str) -> DestinationError:
    hint = _HINTS.get(verdict.code)
    text = f"cannot write to bucket {bucket!r}: {verdict.reason}"
    if verdict.code == "TLSVerificationFailed":
        text = f"TLS verification failed: {verdict.reason}"
    if verdict.code == "ConnectionError":
        text = f"cannot reach the S3 endpoint: {verdict.reason}; check --endpoint-url and the network"
        return DestinationError(text, code="EndpointUnreachable")
    if verdict.code == "NoCredentials":
        text = (
            "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
            "or name a profile (AWS_PROFILE / --profile)"
        )
    elif hint:
        text = f"{text} ({hint})"
    return DestinationError(text, code=verdict.code)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    name = type(exc).__name__
    return f"{name}: {text}" if text else name
