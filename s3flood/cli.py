"""The ``s3flood`` command: a thin layer over the library.

Exit codes: 0 everything uploaded or skipped; 1 some files failed; 2 the run could not proceed
(bad arguments, SourceError, DestinationError); 130 interrupted by Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import signal
import sys
from collections.abc import Sequence
from typing import NoReturn

from s3flood._api import prepare_run
from s3flood._body import CHECKSUMS
from s3flood._display import Census, ProgressDisplay, summary
from s3flood._errors import S3FloodError
from s3flood._options import (
    AUTO,
    AUTO_PROCESSES_MIN_FILES,
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MULTIPART_THRESHOLD,
    DEFAULT_PART_SIZE,
    DEFAULT_PROCESSES,
    MAX_AUTO_PROCESSES,
)
from s3flood._report import UploadReport
from s3flood._run import Run
from s3flood._secrets import RedactSecrets
from s3flood._version import __version__

EXIT_OK, EXIT_FAILURES, EXIT_CANNOT_RUN, EXIT_INTERRUPTED = 0, 1, 2, 130
log = logging.getLogger("s3flood")

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?\s*$", re.IGNORECASE)
_FACTORS = {"": 1, "b": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "t": 1000**4}

DESCRIPTION = """\
Upload every file below SRC to s3://BUCKET/PREFIX/, with many requests in flight at once,
and account for every file: each ends uploaded, skipped, or failed with its reason.

Credentials and region come from the standard AWS chain: AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY, a profile (--profile or AWS_PROFILE), or an instance role.
"""
EPILOG = """\
examples:
  s3flood upload ./photos s3://my-bucket/photos
  s3flood upload ./data s3://my-bucket --exclude '*.tmp' --skip-unchanged
  s3flood upload ./site s3://site --endpoint-url http://127.0.0.1:9000 --json

exit codes: 0 all uploaded or skipped, 1 some files failed, 2 could not run, 130 interrupted
"""


def parse_size(text: str) -> int:
    """'8MiB', '16M', '1.5GB', '1048576' -> bytes (KiB/MiB binary, KB/MB decimal)."""
    match = _SIZE.match(text)
    if match is None:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (try 8MiB, 64MB or a byte count)")
    number, unit = match.group(1), (match.group(2) or "").lower()
    base = 1024 if "i" in unit else 1000
    exponent = "bkmgt".index(unit[0]) if unit else 0
    return int(float(number) * base**exponent)


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def processes_count(text: str) -> int | str:
    """A count, or 'auto': one worker process per core, at most 4, once the walk has found
    more than 2,000 files (see _run). The default, 1, is explained in _options."""
    if text == AUTO:
        return AUTO
    return positive_int(text)


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {value}")
    return value


def parse_destination(text: str) -> tuple[str, str]:
    """'s3://bucket/photos' and 's3://bucket/photos/' -> ('bucket', 'photos/')."""
    if not text.startswith("s3://"):
        raise argparse.ArgumentTypeError(f"destination must look like s3://BUCKET[/PREFIX], not {text!r}")
    bucket, _, path = text[len("s3://") :].partition("/")
    if not bucket:
        raise argparse.ArgumentTypeError(f"no bucket name in {text!r}")
    path = path.strip("/")
    return bucket, (path + "/" if path else "")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="s3flood",
        description="Upload a directory tree to S3 fast, and account for every file.",
    )
    parser.add_argument("--version", action="version", version=f"s3flood {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    upload = commands.add_parser(
        "upload",
        help="upload a directory tree to s3://BUCKET/PREFIX",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    upload.add_argument("src", metavar="SRC", help="the local directory to upload (walked recursively)")
    upload.add_argument(
        "dest",
        metavar="s3://BUCKET[/PREFIX]",
        type=parse_destination,
        help="where to: a key is PREFIX/ + the file's path relative to SRC",
    )
    where = upload.add_argument_group("where and who")
    where.add_argument("--endpoint-url", metavar="URL", help="an S3-compatible endpoint (MinIO, R2, ...)")
    where.add_argument("--profile", help="the AWS profile to take credentials and region from")
    where.add_argument("--region", help="the bucket's region (default: from the profile or environment)")
    what = upload.add_argument_group("what to send")
    what.add_argument(
        "--include",
        action="append",
        default=[],
        metavar="GLOB",
        help="send only paths matching GLOB (repeatable; '*' also matches '/')",
    )
    what.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="never send paths matching GLOB (repeatable)",
    )
    what.add_argument(
        "--follow-symlinks",
        action="store_true",
        help="follow links to files and directories (default: skip them)",
    )
    what.add_argument(
        "--skip-unchanged",
        action="store_true",
        help="skip files whose object already holds the same bytes (re-run to resume)",
    )
    what.add_argument(
        "--retry-failed",
        metavar="MANIFEST",
        help="send only the files a previous run's manifest lists as failed",
    )
    what.add_argument("--dry-run", action="store_true", help="decide everything, send nothing")
    how = upload.add_argument_group("how")
    how.add_argument(
        "--concurrency",
        type=positive_int,
        default=DEFAULT_CONCURRENCY,
        metavar="N",
        help=f"S3 requests in flight at once, parts included (default {DEFAULT_CONCURRENCY})",
    )
    how.add_argument(
        "--max-attempts",
        type=positive_int,
        default=DEFAULT_MAX_ATTEMPTS,
        metavar="N",
        help=f"requests at most per file or part, first try included (default {DEFAULT_MAX_ATTEMPTS})",
    )
    how.add_argument(
        "--multipart-threshold",
        type=parse_size,
        default=DEFAULT_MULTIPART_THRESHOLD,
        metavar="SIZE",
        help="files this large or larger go up in parts (default 16MiB)",
    )
    how.add_argument(
        "--part-size",
        type=parse_size,
        default=DEFAULT_PART_SIZE,
        metavar="SIZE",
        help="starting part size, at least 5MiB; grows to keep within 10,000 parts (default 8MiB)",
    )
    how.add_argument(
        "--checksum",
        choices=[*CHECKSUMS, "none"],
        default="crc32",
        help="the checksum the store verifies on every body; 'none' for stores that reject it",
    )
    how.add_argument(
        "--processes",
        type=processes_count,
        default=DEFAULT_PROCESSES,
        metavar="N",
        help="worker processes, each with its own event loop and connections (default"
        f" {DEFAULT_PROCESSES}); 'auto' is one per core, at most {MAX_AUTO_PROCESSES}, for trees of"
        f" more than {AUTO_PROCESSES_MIN_FILES:,} files without --skip-unchanged, else 1",
    )
    how.add_argument("--connect-timeout", type=positive_float, default=10.0, metavar="SECONDS")
    how.add_argument("--read-timeout", type=positive_float, default=60.0, metavar="SECONDS")
    out = upload.add_argument_group("output")
    out.add_argument("--manifest", metavar="FILE", help="write one JSON line per file with its outcome")
    out.add_argument("--json", action="store_true", help="print the report as one JSON object on stdout")
    out.add_argument("--no-progress", action="store_true", help="no live progress display on stderr")
    out.add_argument("--debug", action="store_true", help="log everything and show tracebacks")
    return parser


def main(argv: Sequence[str] | None = None) -> NoReturn:
    args = build_parser().parse_args(argv)
    if args.debug:
        handler = logging.StreamHandler(sys.stderr)
        handler.addFilter(RedactSecrets())
        logging.basicConfig(level=logging.DEBUG, handlers=[handler])
    try:
        code = asyncio.run(_upload(args))
    except KeyboardInterrupt:  # a Ctrl-C before the loop's own handler was in place
        code = EXIT_INTERRUPTED
    sys.stdout.flush()
    raise SystemExit(code)


def _fail(message: str, args: argparse.Namespace, exc: BaseException | None = None) -> int:
    if args.debug and exc is not None:
        log.exception("s3flood failed")
    print(f"s3flood: error: {message}", file=sys.stderr)
    return EXIT_CANNOT_RUN


async def _upload(args: argparse.Namespace) -> int:
    bucket, prefix = args.dest
    destination = f"s3://{bucket}/{prefix}"
    try:
        _use_profile(args)
        run = prepare_run(
            args.src,
            bucket,
            prefix=prefix,
            session=None,
            client=None,
            on_progress=None,
            include=args.include,
            exclude=args.exclude,
            manifest=args.manifest,
            concurrency=args.concurrency,
            max_attempts=args.max_attempts,
            endpoint_url=args.endpoint_url,
            region=args.region,
            follow_symlinks=args.follow_symlinks,
            skip_unchanged=args.skip_unchanged,
            dry_run=args.dry_run,
            multipart_threshold=args.multipart_threshold,
            part_size=args.part_size,
            checksum=None if args.checksum == "none" else args.checksum,
            processes=args.processes,
            connect_timeout=args.connect_timeout,
            read_timeout=args.read_timeout,
            only=_failed_paths(args.retry_failed, args.src) if args.retry_failed else None,
        )
    except (ValueError, OSError, S3FloodError) as exc:
        return _fail(str(exc), args, exc)
    except Exception as exc:  # botocore's ProfileNotFound and friends
        return _fail(_describe(exc), args, exc)

    display = None
    if not args.no_progress and sys.stderr.isatty():
        from rich.console import Console  # noqa: PLC0415  (only a terminal needs it)

        display = ProgressDisplay(Console(stderr=True), destination, Census(run))
        run.on_progress = display.on_progress

    interrupted = await _run_until_interrupted(run, display, args)
    if isinstance(interrupted, int):
        return interrupted
    report = interrupted
    if args.json:
        print(json.dumps(report.to_dict()))
    else:
        print(summary(report, destination, args.manifest))
    if report.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_OK if report.ok else EXIT_FAILURES


async def _run_until_interrupted(
    run: Run, display: ProgressDisplay | None, args: argparse.Namespace
) -> UploadReport | int:
    """Run; the first Ctrl-C cancels in-flight work (multipart uploads are aborted on the way
    out) and still reports; a second one exits at once."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(run.execute())
    stopping = False

    def on_signal() -> None:
        nonlocal stopping
        if stopping:
            os.write(2, b"\ns3flood: interrupted again, exiting now\n")
            os._exit(EXIT_INTERRUPTED)
        stopping = True
        os.write(2, b"\ns3flood: interrupted: stopping (press Ctrl-C again to quit at once)\n")
        task.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    try:
        if display is not None:
            async with display.live():
                return await _report_of(task, run, args)
        return await _report_of(task, run, args)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def _report_of(
    task: asyncio.Future[UploadReport], run: Run, args: argparse.Namespace
) -> UploadReport | int:
    try:
        return await task
    except asyncio.CancelledError:
        return run.report(interrupted=True)
    except S3FloodError as exc:
        return _fail(str(exc), args, exc)
    except Exception as exc:
        return _fail(_describe(exc), args, exc)


def _use_profile(args: argparse.Namespace) -> None:
    """--profile becomes AWS_PROFILE in this process's environment, which worker processes
    inherit: each then resolves (and refreshes) credentials itself, as a session object cannot
    cross processes. The session made here only checks, early, that the profile exists."""
    if not args.profile:
        return
    from s3flood._client import new_session  # noqa: PLC0415

    new_session(profile_name=args.profile)  # raises ProfileNotFound
    os.environ["AWS_PROFILE"] = args.profile


def _failed_paths(manifest: str, src: str) -> list[str]:
    """The relative paths of the files a manifest lists as failed."""
    paths = []
    try:
        with open(manifest, encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    raise ValueError(
                        f"{manifest}:{number} is not a JSON line: is it an s3flood manifest?"
                    ) from None
                if record.get("outcome") == "failed":
                    paths.append(os.path.relpath(record["path"], src))
    except FileNotFoundError:
        raise ValueError(f"manifest {manifest!r} does not exist") from None
    return paths


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return text or type(exc).__name__


if __name__ == "__main__":
    main()
