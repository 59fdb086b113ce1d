"""What a run tells its caller: the final report, the failures in it, and the tally that builds it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from s3flood._errors import UploadFailedError


@dataclass(frozen=True, slots=True)
class FailedUpload:
    """One file (or unreadable directory) that did not make it, and why."""

    path: str
    key: str
    error: str
    attempts: int


@dataclass(frozen=True, slots=True)
class UploadReport:
    """The outcome of one run. Always ``found == uploaded + skipped + len(failed)``."""

    found: int
    uploaded: int
    skipped: int
    failed: tuple[FailedUpload, ...]
    bytes_uploaded: int
    retries: int
    elapsed: float
    dry_run: bool = False
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        return not self.failed

    def raise_for_failures(self) -> None:
        if self.failed:
            raise UploadFailedError(self)

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready data (the CLI's ``--json`` object)."""
        return {
            "found": self.found,
            "uploaded": self.uploaded,
            "skipped": self.skipped,
            "failed": [
                {"path": f.path, "key": f.key, "error": f.error, "attempts": f.attempts} for f in self.failed
            ],
            "bytes_uploaded": self.bytes_uploaded,
            "retries": self.retries,
            "elapsed": round(self.elapsed, 3),
            "dry_run": self.dry_run,
            "interrupted": self.interrupted,
            "ok": self.ok,
        }


@dataclass(slots=True)
class Tally:
    """Mutable counters a run updates as outcomes arrive; frozen into an UploadReport at the end."""

    found: int = 0
    bytes_found: int = 0
    uploaded: int = 0
    skipped: int = 0
    bytes_uploaded: int = 0
    retries: int = 0
    failed: list[FailedUpload] = field(default_factory=list)

    @property
    def done(self) -> int:
        return self.uploaded + self.skipped + len(self.failed)

    def freeze(self, *, elapsed: float, dry_run: bool, interrupted: bool = False) -> UploadReport:
        return UploadReport(
            found=self.found,
            uploaded=self.uploaded,
            skipped=self.skipped,
            failed=tuple(self.failed),
            bytes_uploaded=self.bytes_uploaded,
            retries=self.retries,
            elapsed=elapsed,
            dry_run=dry_run,
            interrupted=interrupted,
        )
