"""What the command shows a person: the live progress display (stderr) and the final summary.

The display never draws per event: ``on_progress`` only keeps the latest event (one assignment
per file), and a task on the event loop redraws from it ten times a second. So the bar costs
the same at 50 files/s and at 5,000.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn

from s3flood._events import ProgressEvent
from s3flood._report import UploadReport
from s3flood._run import Run
from s3flood._walk import PathFilter, walk

REFRESH_SECONDS = 0.1
_UNITS = ("B", "kB", "MB", "GB", "TB", "PB")


def human_bytes(count: float) -> str:
    for unit in _UNITS:
        if abs(count) < 1000 or unit == _UNITS[-1]:
            return f"{count:,.0f} {unit}" if unit == "B" else f"{count:,.1f} {unit}"
        count /= 1000
    raise AssertionError("unreachable")


def human_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{secs:02}"


class _Rates:
    """Files/s and bytes/s over the last few seconds (an exponential moving average)."""

    def __init__(self) -> None:
        self.files = 0.0
        self.bytes = 0.0
        self._last: tuple[float, int, int] | None = None

    def update(self, now: float, files: int, count: int) -> None:
        if self._last is not None:
            then, last_files, last_bytes = self._last
            span = now - then
            if span > 0:
                weight = min(1.0, span / 3.0)
                self.files += weight * ((files - last_files) / span - self.files)
                self.bytes += weight * ((count - last_bytes) / span - self.bytes)
        self._last = (now, files, count)


class Census:
    """Counts what the run will find, ahead of it, for a total and an ETA early in the run.

    The run's own walk is held back by admission (memory stays bounded), so its ``found``
    trails the uploads; this pass runs the same walk code on a thread, keeping nothing but
    two counters, and can be told to stop.
    """

    def __init__(self, run: Run) -> None:
        self.run = run
        self.files = 0
        self.bytes = 0
        self.finished = False
        self._stop = threading.Event()

    def count(self) -> None:
        options = self.run.options
        entries = walk(
            self.run.root,
            prefix=options.prefix,
            path_filter=PathFilter(options.include, options.exclude),
            follow_symlinks=options.follow_symlinks,
            only=options.only,
        )
        for entry in entries:
            if self._stop.is_set():
                return
            self.files += 1
            self.bytes += entry.size
        self.finished = True

    def stop(self) -> None:
        self._stop.set()


class ProgressDisplay:
    def __init__(self, console: Console, destination: str, census: Census | None = None) -> None:
        self.console = console
        self.destination = destination
        self.census = census
        self.latest: ProgressEvent | None = None
        self._rates = _Rates()
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[status]}"),
            console=console,
            auto_refresh=False,
            transient=False,
        )
        self._task = self._progress.add_task("uploading", total=None, status="walking...")

    def on_progress(self, event: ProgressEvent) -> None:
        self.latest = event

    def redraw(self) -> None:
        event = self.latest
        if event is None:
            return
        now = time.monotonic()
        self._rates.update(now, event.files_done, event.bytes_done)
        files, size, known = event.files_found, event.bytes_found, event.walk_finished
        census = self.census
        if not known and census is not None and (census.finished or census.files > files):
            files, size, known = census.files, census.bytes, census.finished
        parts = [
            f"{event.files_done:,}/{files:,}{'' if known else '+'} files",
            f"{human_bytes(event.bytes_done)}/{human_bytes(size)}",
            f"{self._rates.files:,.0f} files/s",
            f"{human_bytes(self._rates.bytes)}/s",
        ]
        total: float | None = None
        if known:
            total = max(files, 1)
            if self._rates.files > 0:
                parts.append(f"ETA {human_duration((files - event.files_done) / self._rates.files)}")
        if event.retries:
            parts.append(f"retries {event.retries:,}")
        if event.failed:
            parts.append(f"[red]failed {event.failed:,}[/red]")
        self._progress.update(self._task, completed=event.files_done, total=total, status="  ".join(parts))
        self._progress.refresh()

    @contextlib.asynccontextmanager
    async def live(self) -> AsyncIterator[ProgressDisplay]:
        async def keep_drawing() -> None:
            while True:
                self.redraw()
                await asyncio.sleep(REFRESH_SECONDS)

        with self._progress:
            drawer = asyncio.create_task(keep_drawing())
            counter = None
            if self.census is not None:
                counter = asyncio.get_running_loop().run_in_executor(None, self.census.count)
            try:
                yield self
            finally:
                drawer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await drawer
                if self.census is not None and counter is not None:
                    self.census.stop()
                    with contextlib.suppress(Exception):
                        await counter
                self.redraw()


def summary(report: UploadReport, destination: str, manifest: str | None, *, show: int = 10) -> str:
    """The human summary printed at the end of a run."""
    verb = "Would upload" if report.dry_run else "Uploaded"
    rate = report.uploaded / report.elapsed if report.elapsed > 0 else 0.0
    byte_rate = report.bytes_uploaded / report.elapsed if report.elapsed > 0 else 0.0
    lines = []
    if report.interrupted:
        lines.append("Interrupted: what is below landed before the stop; run again to finish.")
    lines.append(
        f"{verb} {report.uploaded:,} files ({human_bytes(report.bytes_uploaded)}) to {destination} "
        f"in {report.elapsed:.1f}s: {rate:,.0f} files/s, {human_bytes(byte_rate)}/s"
    )
    lines.append(
        f"  found {report.found:,}  uploaded {report.uploaded:,}  skipped {report.skipped:,}  "
        f"failed {len(report.failed):,}  retries {report.retries:,}"
    )
    if report.failed:
        lines.append(f"First failures ({min(show, len(report.failed))} of {len(report.failed):,}):")
        lines.extend(f"  {f.path}: {f.error} (attempts: {f.attempts})" for f in report.failed[:show])
    if manifest:
        lines.append(f"Manifest: {manifest}")
    return "\n".join(lines)
