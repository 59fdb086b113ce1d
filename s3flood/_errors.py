"""The exceptions s3flood raises.

    Exception
     ├── ValueError                 bad arguments, raised before any I/O
     └── S3FloodError               base of everything below
          ├── SourceError           the local directory is missing, not a directory, or unreadable
          ├── DestinationError      the run cannot write at all (no bucket, access denied,
          │                         bad credentials, endpoint unreachable); carries the S3 code
          └── UploadFailedError     raised by UploadReport.raise_for_failures(); holds the report

Per-file problems are never exceptions to the caller: they are data in the report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from s3flood._report import UploadReport


class S3FloodError(Exception):
    """Base class of every error s3flood raises on purpose."""


class SourceError(S3FloodError):
    """The source directory cannot be walked at all. Raised before anything is sent."""


class DestinationError(S3FloodError):
    """The run cannot write to the destination at all.

    ``code`` is the S3 error code (``NoSuchBucket``, ``AccessDenied``, ...) or a short
    s3flood code (``NoCredentials``, ``EndpointUnreachable``) when S3 never answered.
    """

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


class UploadFailedError(S3FloodError):
    """Some files failed; ``report`` says which and why."""

    def __init__(self, report: UploadReport) -> None:
        count = len(report.failed)
        first = report.failed[0]
        super().__init__(
            f"{count} of {report.found} files failed to upload; first: {first.path}: {first.error}"
        )
        self.report = report
