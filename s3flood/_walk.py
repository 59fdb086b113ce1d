"""The directory walk: a stream of entries, each a file to send or an outcome already decided.

Policy decided here, once:
- Keys are ``prefix`` + the path relative to the root, parts joined with ``/``, names exactly as
  the filesystem gives them (no Unicode normalisation).
- ``include``/``exclude`` are fnmatch patterns on that relative path, ``*`` crossing ``/``.
  They apply to every entry that could count (files, links, special files), not to directories.
- A link is skipped unless ``follow_symlinks``; followed, a directory is entered at most once
  (by device and inode), so loops end. A broken link fails with its reason.
- FIFOs, sockets and devices are never opened (a FIFO would block a read forever): skipped.
- A directory that cannot be read is one failed entry; the walk goes on.
- A name that is not valid UTF-8 cannot be an S3 key: failed, with the reason, never sent
  under a mangled name. A key over 1,024 UTF-8 bytes (S3's limit) fails the same way, here,
  rather than costing a request that S3 would refuse.

Memory: one open ``os.scandir`` iterator per directory level being walked, plus the set of
visited directories when links are followed. Nothing grows with the number of files.
"""

from __future__ import annotations

import asyncio
import fnmatch
import itertools
import os
import re
import stat
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from s3flood._errors import SourceError

MAX_KEY_BYTES = 1024
_BATCH = 512


@dataclass(slots=True)
class FileEntry:
    """One thing the walk met. ``verdict`` is set when its outcome is already decided."""

    path: str
    key: str
    size: int
    mtime_ns: int
    verdict: Literal["skipped", "failed"] | None = None
    reason: str = ""


class PathFilter:
    """include/exclude globs compiled once into two regular expressions."""

    def __init__(self, include: Sequence[str], exclude: Sequence[str]) -> None:
        self._include = _compile(include)
        self._exclude = _compile(exclude)

    def selects(self, relative: str) -> bool:
        if self._include is not None and self._include.match(relative) is None:
            return False
        return self._exclude is None or self._exclude.match(relative) is None


def _compile(patterns: Sequence[str]) -> re.Pattern[str] | None:
    if isinstance(patterns, str):
        raise ValueError("include/exclude take a sequence of patterns, not a single string")
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in patterns))


def check_source(root: str) -> None:
    """Raise SourceError unless ``root`` is a directory this process can list."""
    try:
        st = os.stat(root)
    except FileNotFoundError:
        raise SourceError(f"source {root!r} does not exist") from None
    except OSError as exc:
        raise SourceError(f"source {root!r} cannot be read: {exc.strerror}") from exc
    if not stat.S_ISDIR(st.st_mode):
        raise SourceError(f"source {root!r} is not a directory")
    try:
        with os.scandir(root):
            pass
    except OSError as exc:
        raise SourceError(f"source {root!r} cannot be listed: {exc.strerror}") from exc


def walk(
    root: str,
    *,
    prefix: str = "",
    path_filter: PathFilter | None = None,
    follow_symlinks: bool = False,
    only: Iterable[str] | None = None,
) -> Iterator[FileEntry]:
    """Yield every selected entry below ``root`` (blocking; run it in a thread).

    With ``only``, just those paths (relative to ``root``; a directory among them is walked
    whole) instead of the whole tree: how a previous run's failures are retried.
    """
    visited: set[tuple[int, int]] = set()
    if follow_symlinks:
        st = os.stat(root)
        visited.add((st.st_dev, st.st_ino))
    if only is None:
        yield from _walk_tree(
            root, "", prefix=prefix, path_filter=path_filter, follow_symlinks=follow_symlinks, visited=visited
        )
        return
    selects = path_filter.selects if path_filter is not None else None
    for given in only:
        relative = given.replace(os.sep, "/").strip("/")
        decided = _classify(_PathEntry(os.path.join(root, relative)), follow_symlinks, visited)
        if decided == "dir":
            yield from _walk_tree(
                root,
                relative + "/",
                prefix=prefix,
                path_filter=path_filter,
                follow_symlinks=follow_symlinks,
                visited=visited,
            )
        elif decided is not None and (selects is None or selects(relative)):
            yield _with_key(decided, prefix + relative)


def _walk_tree(
    root: str,
    start: str,
    *,
    prefix: str,
    path_filter: PathFilter | None,
    follow_symlinks: bool,
    visited: set[tuple[int, int]],
) -> Iterator[FileEntry]:
    selects = path_filter.selects if path_filter is not None else None
    # An explicit stack of open iterators rather than recursion: no depth limit.
    stack: list[tuple[Iterator[os.DirEntry[str]], str]] = []

    def enter(directory: str, relative_dir: str) -> FileEntry | None:
        try:
            stack.append((os.scandir(directory), relative_dir))
        except OSError as exc:
            return FileEntry(
                directory,
                prefix + relative_dir,
                0,
                0,
                "failed",
                f"cannot read directory: {exc.strerror or exc}",
            )
        return None

    failure = enter(os.path.join(root, start), start)
    if failure is not None:
        yield failure
    while stack:
        iterator, relative_dir = stack[-1]
        try:
            entry = next(iterator)
        except StopIteration:
            stack.pop()
            _close(iterator)
            continue
        except OSError as exc:
            stack.pop()
            _close(iterator)
            yield FileEntry(
                os.path.join(root, relative_dir),
                prefix + relative_dir,
                0,
                0,
                "failed",
                f"cannot read directory: {exc.strerror or exc}",
            )
            continue
        relative = relative_dir + entry.name
        decided = _classify(entry, follow_symlinks, visited)
        if decided == "dir":
            failure = enter(entry.path, relative + "/")
            if failure is not None:
                yield failure
            continue
        if decided is None:
            continue
        if selects is not None and not selects(relative):
            continue
        yield _with_key(decided, prefix + relative)


class _Entry(Protocol):
    @property
    def path(self) -> str: ...
    def is_symlink(self) -> bool: ...
    def stat(self, *, follow_symlinks: bool = True) -> os.stat_result: ...


class _PathEntry:
    """A path that did not come from scandir, shaped like a DirEntry for ``_classify``."""

    def __init__(self, path: str) -> None:
        self.path = path

    def is_symlink(self) -> bool:
        return os.path.islink(self.path)

    def stat(self, *, follow_symlinks: bool = True) -> os.stat_result:
        return os.stat(self.path, follow_symlinks=follow_symlinks)


def _classify(
    entry: _Entry,
    follow_symlinks: bool,
    visited: set[tuple[int, int]],
) -> FileEntry | Literal["dir"] | None:
    """What to do with one directory entry: descend, yield it, or (None) pass over it."""
    try:
        if entry.is_symlink():
            if not follow_symlinks:
                return FileEntry(entry.path, "", 0, 0, "skipped", "symbolic link (not followed)")
            st = entry.stat(follow_symlinks=True)
        else:
            st = entry.stat(follow_symlinks=False)
    except FileNotFoundError:
        if entry.is_symlink():
            return FileEntry(entry.path, "", 0, 0, "failed", "broken symbolic link")
        return FileEntry(entry.path, "", 0, 0, "failed", "vanished before it was read")
    except OSError as exc:
        return FileEntry(entry.path, "", 0, 0, "failed", f"cannot stat: {exc.strerror or exc}")
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        if follow_symlinks:
            identity = (st.st_dev, st.st_ino)
            if identity in visited:
                return None  # already walked: a link loop or a second link to one directory
            visited.add(identity)
        return "dir"
    if stat.S_ISREG(mode):
        return FileEntry(entry.path, "", st.st_size, st.st_mtime_ns)
    return FileEntry(entry.path, "", 0, 0, "skipped", f"special file ({_kind_of(mode)})")


def _with_key(entry: FileEntry, key: str) -> FileEntry:
    entry.key = key
    if entry.verdict is None:
        try:
            encoded = len(key.encode("utf-8"))
        except UnicodeEncodeError:
            entry.verdict, entry.reason = "failed", "name is not valid UTF-8, so it cannot be an S3 key"
            return entry
        if encoded > MAX_KEY_BYTES:
            entry.verdict = "failed"
            entry.reason = f"key too long: {encoded} bytes, S3 allows {MAX_KEY_BYTES}"
    return entry


def _kind_of(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "not a regular file"


def _close(iterator: Iterator[os.DirEntry[str]]) -> None:
    close = getattr(iterator, "close", None)
    if close is not None:
        close()


async def stream(entries: Iterator[FileEntry]) -> AsyncIterator[FileEntry]:
    """Drive a blocking walk from a worker thread, a batch at a time, so the loop never waits on disk."""
    while True:
        batch = await asyncio.to_thread(lambda: list(itertools.islice(entries, _BATCH)))
        if not batch:
            return
        for entry in batch:
            yield entry
