"""The knobs of a run, their defaults, and their validation (ValueError before any I/O)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from s3flood._body import CHECKSUMS, ChecksumName
from s3flood._multipart import MIN_PART_SIZE

MiB = 1024**2
DEFAULT_CONCURRENCY = 100
DEFAULT_MAX_ATTEMPTS = 5
# Multipart from 16 MiB in 8 MiB parts: below 16 MiB one PUT is one request and the
# whole body fits easily in the byte budget; above it, parts let one large file use many
# connections at once. (The AWS CLI uses 8/8; see README for the measurements.)
DEFAULT_MULTIPART_THRESHOLD = 16 * MiB
DEFAULT_PART_SIZE = 8 * MiB
# The bound on file bytes read into memory at once (bodies and parts), whatever the file sizes.
# Measured on 4 x 256 MiB to SeaweedFS: 32-128 MiB all reach the store's ~145 MB/s, 256 MiB
# fell to 98 MB/s (too many parts at once contend in the store). Bodies are written in slices
# (see _transport), so the transport holds no second copy of a whole body.
DEFAULT_BUFFER_BYTES = 64 * MiB
DEFAULT_CHECKSUM: ChecksumName = "crc32"
# One process by default. Since bodies go out through the lean exchange (see _transport), one
# process sends ~2,100 small files/s here at 0.46 ms of client CPU per file, and on this
# 2-core machine, with the store on the same cores, it beat 2 worker processes on every
# workload (seed 23.8 s against 24.5 s, mixed 11.9 against 12.3 s, large level): the second
# process only takes CPU from the store. It is also above half of S3's documented 3,500 PUT/s
# per prefix. "auto" is for machines with cores to spare and a store elsewhere: one worker
# process per core (at most 4) once the walk has found more than AUTO_PROCESSES_MIN_FILES
# files; fewer files, or one core, run in this process (see _run).
DEFAULT_PROCESSES = 1
AUTO: Final = "auto"
MAX_AUTO_PROCESSES = 4
AUTO_PROCESSES_MIN_FILES = 2000
MAX_SINGLE_PUT = 5 * 1024**3


@dataclass(frozen=True, slots=True)
class UploadOptions:
    prefix: str = ""
    concurrency: int = DEFAULT_CONCURRENCY
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    endpoint_url: str | None = None
    region: str | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    follow_symlinks: bool = False
    skip_unchanged: bool = False
    dry_run: bool = False
    manifest: str | None = None
    multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD
    part_size: int = DEFAULT_PART_SIZE
    checksum: ChecksumName | None = DEFAULT_CHECKSUM
    processes: int | Literal["auto"] = DEFAULT_PROCESSES
    buffer_bytes: int = DEFAULT_BUFFER_BYTES
    only: tuple[str, ...] | None = None  # just these relative paths (retrying failures)
    adaptive: bool = True  # pace requests when the store throttles (see _limiter)
    connect_timeout: float = 10.0
    read_timeout: float = 60.0

    def __post_init__(self) -> None:
        _positive_int("concurrency", self.concurrency)
        _positive_int("max_attempts", self.max_attempts)
        if self.processes != AUTO:
            _positive_int("processes", self.processes)
        _positive_int("multipart_threshold", self.multipart_threshold)
        _positive_int("part_size", self.part_size)
        _positive_int("buffer_bytes", self.buffer_bytes)
        if self.part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least 5 MiB ({MIN_PART_SIZE} bytes), S3's minimum")
        if self.part_size > MAX_SINGLE_PUT:
            raise ValueError("part_size must be at most 5 GiB, S3's maximum")
        if self.multipart_threshold > MAX_SINGLE_PUT:
            raise ValueError(
                "multipart_threshold must be at most 5 GiB: larger single PUTs are refused by S3"
            )
        if self.checksum is not None and self.checksum not in CHECKSUMS:
            raise ValueError(f"checksum must be one of {', '.join(CHECKSUMS)} or None, not {self.checksum!r}")
        if not isinstance(self.prefix, str):
            raise ValueError("prefix must be a string")
        for name in ("connect_timeout", "read_timeout"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"{name} must be a positive number of seconds")


def _positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, not {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, not {value}")


def check_bucket(bucket: object) -> str:
    if not isinstance(bucket, str) or not bucket.strip():
        raise ValueError("bucket must be a non-empty string")
    if "/" in bucket or bucket.startswith("s3:"):
        raise ValueError(f"bucket must be a bucket name, not a path or URL: {bucket!r}")
    return bucket


def as_patterns(name: str, patterns: Sequence[str]) -> tuple[str, ...]:
    if isinstance(patterns, str):
        raise ValueError(f"{name} takes a sequence of glob patterns, not a single string")
    return tuple(patterns)


def as_path(path: str | os.PathLike[str]) -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise ValueError(f"path must be a str or os.PathLike, not {type(path).__name__}")
    return os.fspath(path)
