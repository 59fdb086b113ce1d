"""The walk's policy: keys, filters, links, special files, bad names, unreadable directories."""

from __future__ import annotations

import os
import socket
import unicodedata
from pathlib import Path

import pytest

from s3flood._errors import SourceError
from s3flood._walk import FileEntry, PathFilter, check_source, walk


def entries(root: Path, **kwargs: object) -> dict[str, FileEntry]:
    return {e.key: e for e in walk(str(root), **kwargs)}  # type: ignore[arg-type]


def test_keys_are_relative_paths_with_slashes_and_a_literal_prefix(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "c.txt").write_text("c")
    (tmp_path / "top.txt").write_text("t")
    (tmp_path / ".hidden").write_text("h")
    (tmp_path / "empty-dir").mkdir()
    found = entries(tmp_path, prefix="raw-")
    assert set(found) == {"raw-a/b/c.txt", "raw-top.txt", "raw-.hidden"}
    assert found["raw-a/b/c.txt"].size == 1
    assert all(e.verdict is None for e in found.values())


def test_names_are_not_normalised(tmp_path: Path) -> None:
    nfc = unicodedata.normalize("NFC", "café.txt")
    nfd = unicodedata.normalize("NFD", "café.txt")
    (tmp_path / nfc).write_text("1")
    (tmp_path / nfd).write_text("2")
    assert set(entries(tmp_path)) == {nfc, nfd}


@pytest.mark.parametrize(
    ("include", "exclude", "expected"),
    [
        ((), ("*.tmp",), {"a.txt", "d/b.txt", "d/e/c.log"}),
        (("*.txt",), (), {"a.txt", "d/b.txt"}),
        (("d/*",), ("*.log",), {"d/b.txt", "d/x.tmp"}),
        (("*.txt", "*.log"), ("d/e/*",), {"a.txt", "d/b.txt"}),
    ],
)
def test_include_and_exclude_match_the_relative_path_star_crossing_slashes(
    tmp_path: Path, include: tuple[str, ...], exclude: tuple[str, ...], expected: set[str]
) -> None:
    (tmp_path / "d" / "e").mkdir(parents=True)
    for name in ("a.txt", "top.tmp", "d/b.txt", "d/x.tmp", "d/e/c.log"):
        (tmp_path / name).write_text("x")
    assert set(entries(tmp_path, path_filter=PathFilter(include, exclude))) == expected


def test_links_are_skipped_unless_followed(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "f").write_text("f")
    (tmp_path / "to-dir").symlink_to(tmp_path / "real")
    (tmp_path / "to-file").symlink_to(tmp_path / "real" / "f")
    found = entries(tmp_path)
    assert set(found) == {"real/f", "to-dir", "to-file"}
    assert found["to-dir"].verdict == "skipped"
    assert found["to-file"].verdict == "skipped"
    assert "link" in found["to-file"].reason


def test_followed_links_never_loop_and_enter_each_directory_once(tmp_path: Path) -> None:
    (tmp_path / "real" / "sub").mkdir(parents=True)
    (tmp_path / "real" / "sub" / "f").write_text("f")
    (tmp_path / "real" / "sub" / "loop").symlink_to(tmp_path)
    (tmp_path / "again").symlink_to(tmp_path / "real")
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    (outside / "o").write_text("o")
    (tmp_path / "out").symlink_to(outside)
    (tmp_path / "broken").symlink_to(tmp_path / "nowhere")
    found = entries(tmp_path, follow_symlinks=True)
    files = {k for k, e in found.items() if e.verdict is None}
    # real/ and again/ are one directory: its file is found once, under whichever came first.
    assert len([k for k in files if k.endswith("/f")]) == 1
    assert "out/o" in files
    assert found["broken"].verdict == "failed"
    assert "broken" in found["broken"].reason


def test_special_files_are_skipped_never_opened(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(tmp_path / "sock"))
        found = entries(tmp_path)
    assert found["fifo"].verdict == "skipped"
    assert "FIFO" in found["fifo"].reason
    assert found["sock"].verdict == "skipped"


def test_names_that_are_not_utf8_fail_with_a_reason(tmp_path: Path) -> None:
    with open(os.path.join(os.fsencode(tmp_path), b"bad-\xff.txt"), "wb") as f:
        f.write(b"x")
    (entry,) = walk(str(tmp_path))
    assert entry.verdict == "failed"
    assert "UTF-8" in entry.reason


def test_keys_over_1024_bytes_fail_before_any_request(tmp_path: Path) -> None:
    deep = tmp_path
    for _ in range(5):
        deep = deep / ("d" * 240)
    deep.mkdir(parents=True)
    (deep / "file").write_text("x")
    (entry,) = walk(str(tmp_path))
    assert entry.verdict == "failed"
    assert "too long" in entry.reason


def test_an_unreadable_directory_is_one_failure_and_the_walk_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "secret").write_text("s")
    (tmp_path / "open.txt").write_text("o")
    real_scandir = os.scandir

    def scandir(path: str) -> object:
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    found = entries(tmp_path)
    assert found["open.txt"].verdict is None
    assert found["locked/"].verdict == "failed"
    assert "Permission denied" in found["locked/"].reason


def test_check_source_rejects_missing_and_non_directories(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        check_source(str(tmp_path / "missing"))
    (tmp_path / "file").write_text("x")
    with pytest.raises(SourceError, match="not a directory"):
        check_source(str(tmp_path / "file"))
    check_source(str(tmp_path))


def test_patterns_must_be_a_sequence_not_a_string() -> None:
    with pytest.raises(ValueError, match="sequence"):
        PathFilter("*.txt", ())
