"""``upload_directory``: validate, then hand a Run the wiring."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Literal

import aioboto3

from s3flood._body import ChecksumName
from s3flood._events import ProgressCallback
from s3flood._options import (
    AUTO,
    DEFAULT_CHECKSUM,
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MULTIPART_THRESHOLD,
    DEFAULT_PART_SIZE,
    DEFAULT_PROCESSES,
    UploadOptions,
    as_path,
    as_patterns,
    check_bucket,
)
from s3flood._report import UploadReport
from s3flood._run import Run


async def upload_directory(
    path: str | os.PathLike[str],
    bucket: str,
    *,
    prefix: str = "",
    concurrency: int = DEFAULT_CONCURRENCY,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    endpoint_url: str | None = None,
    session: aioboto3.Session | None = None,
    client: Any = None,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    follow_symlinks: bool = False,
    skip_unchanged: bool = False,
    dry_run: bool = False,
    on_progress: ProgressCallback | None = None,
    manifest: str | os.PathLike[str] | None = None,
    multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD,
    part_size: int = DEFAULT_PART_SIZE,
    checksum: ChecksumName | None = DEFAULT_CHECKSUM,
    processes: int | Literal["auto"] = DEFAULT_PROCESSES,
    region: str | None = None,
    connect_timeout: float = 10.0,
    read_timeout: float = 60.0,
) -> UploadReport:
    """Upload every file below ``path`` to ``s3://bucket/prefix``; account for each one.

    Returns an UploadReport (``found == uploaded + skipped + len(failed)``). Raises
    ValueError for bad arguments, SourceError for a bad source, DestinationError when
    nothing can be written. Per-file failures are in the report, never raised.

    ``processes=1`` (the default) sends from this process. ``processes="auto"`` sends from one
    worker process per core (at most 4) once the walk finds more than 2,000 files, and from
    this process otherwise, when a ``client`` or ``session`` is given (neither can cross
    processes), or with ``skip_unchanged`` (every worker would list the whole prefix).
    """
    run = prepare_run(
        path,
        bucket,
        prefix=prefix,
        concurrency=concurrency,
        max_attempts=max_attempts,
        endpoint_url=endpoint_url,
        session=session,
        client=client,
        include=include,
        exclude=exclude,
        follow_symlinks=follow_symlinks,
        skip_unchanged=skip_unchanged,
        dry_run=dry_run,
        on_progress=on_progress,
        manifest=manifest,
        multipart_threshold=multipart_threshold,
        part_size=part_size,
        checksum=checksum,
        processes=processes,
        region=region,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
    )
    return await run.execute()


def prepare_run(
    path: str | os.PathLike[str],
    bucket: str,
    *,
    session: aioboto3.Session | None,
    client: Any,
    on_progress: ProgressCallback | None,
    include: Sequence[str],
    exclude: Sequence[str],
    manifest: str | os.PathLike[str] | None,
    only: Sequence[str] | None = None,
    **options: Any,
) -> Run:
    """Validate everything (ValueError before any I/O) and build the Run."""
    if client is not None and options.get("endpoint_url") is not None:
        raise ValueError("pass either client or endpoint_url, not both: the client has its endpoint")
    if client is not None and options.get("processes", DEFAULT_PROCESSES) not in (AUTO, 1):
        raise ValueError("pass either client or processes > 1: a client cannot cross processes")
    if on_progress is not None and not callable(on_progress):
        raise ValueError("on_progress must be callable")
    settings = UploadOptions(
        include=as_patterns("include", include),
        exclude=as_patterns("exclude", exclude),
        manifest=os.fspath(manifest) if manifest is not None else None,
        only=tuple(only) if only is not None else None,
        **options,
    )
    return Run(
        as_path(path),
        check_bucket(bucket),
        settings,
        session=session,
        client=client,
        on_progress=on_progress,
    )
