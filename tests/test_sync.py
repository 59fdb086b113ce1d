"""Sync and resume: skip what is there, re-run after a crash, retry only the failures."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import s3flood
from examples.generate import generate
from s3flood.localstore import LocalS3
from tests.conftest import all_keys, read_object
from tests.test_cli import s3flood as run_cli

MiB = 1024 * 1024


@pytest.mark.parametrize("store_name", ["moto", "seaweedfs"])
async def test_a_second_run_skips_everything_then_sends_exactly_what_changed(
    tmp_path: Path, store_name: str, request: pytest.FixtureRequest
) -> None:
    store: LocalS3 = request.getfixturevalue(store_name)
    bucket = request.getfixturevalue("weed_bucket" if store_name == "seaweedfs" else "bucket")
    src = generate(tmp_path / "src", 200)
    (src / "big.bin").write_bytes(os.urandom(6 * MiB))  # multipart: its ETag is not an MD5
    options = {
        "endpoint_url": store.endpoint_url,
        "prefix": "p/",
        "multipart_threshold": 5 * MiB,
        "part_size": 5 * MiB,
    }
    first = await s3flood.upload_directory(src, bucket, **options)  # type: ignore[arg-type]
    assert first.uploaded == 201

    second = await s3flood.upload_directory(src, bucket, skip_unchanged=True, **options)  # type: ignore[arg-type]
    assert (second.uploaded, second.skipped, second.failed) == (0, 201, ())

    # Three files change (same size, new bytes, an older mtime), two are new, one big file changes.
    for i in (3, 50, 150):
        path = src / f"file{i}.txt"
        path.write_bytes(b"Hello Wor1d!")
        os.utime(path, ns=(10**9, 10**9))
    (src / "new1.txt").write_text("new one")
    (src / "deeper").mkdir()
    (src / "deeper" / "new2.txt").write_text("new two")
    big = bytearray((src / "big.bin").read_bytes())
    big[-1] ^= 0xFF
    (src / "big.bin").write_bytes(bytes(big))

    manifest = tmp_path / "m.jsonl"
    third = await s3flood.upload_directory(
        src,
        bucket,
        skip_unchanged=True,
        manifest=manifest,
        **options,  # type: ignore[arg-type]
    )
    assert (third.uploaded, third.skipped, third.failed) == (6, 197, ())
    sent = {
        json.loads(line)["key"]
        for line in manifest.read_text().splitlines()
        if json.loads(line)["outcome"] == "uploaded"
    }
    assert sent == {
        "p/file3.txt",
        "p/file50.txt",
        "p/file150.txt",
        "p/new1.txt",
        "p/deeper/new2.txt",
        "p/big.bin",
    }
    assert read_object(store, bucket, "p/file50.txt") == b"Hello Wor1d!"
    assert read_object(store, bucket, "p/big.bin") == bytes(big)


async def test_dry_run_with_skip_unchanged_lists_but_writes_nothing(
    tmp_path: Path, moto: LocalS3, bucket: str
) -> None:
    src = generate(tmp_path / "src", 20)
    await s3flood.upload_directory(src, bucket, endpoint_url=moto.endpoint_url)
    (src / "file1.txt").write_text("changed content")
    (src / "extra.txt").write_text("extra")
    report = await s3flood.upload_directory(
        src, bucket, endpoint_url=moto.endpoint_url, skip_unchanged=True, dry_run=True
    )
    assert (report.uploaded, report.skipped) == (2, 19)
    assert "extra.txt" not in all_keys(moto, bucket)
    assert read_object(moto, bucket, "file1.txt") == b"Hello World!"


def test_a_run_killed_with_sigkill_then_rerun_ends_complete_and_byte_exact(
    tmp_path: Path, moto: LocalS3, bucket: str
) -> None:
    count = 3000
    src = generate(tmp_path / "src", count)
    args = [
        sys.executable,
        "-m",
        "s3flood",
        "upload",
        str(src),
        f"s3://{bucket}/run",
        "--endpoint-url",
        moto.endpoint_url,
        "--skip-unchanged",
    ]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(all_keys(moto, bucket)) < count // 4:
        assert time.monotonic() < deadline
        assert process.poll() is None, "finished before it could be killed: use more files"
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    landed_before = len(all_keys(moto, bucket))
    assert 0 < landed_before < count

    rerun = run_cli(*args[3:], "--json", timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    report = json.loads(rerun.stdout)
    assert report["found"] == count
    assert report["skipped"] >= landed_before
    assert report["uploaded"] == count - report["skipped"]
    keys = all_keys(moto, bucket, "run/")
    assert keys == {f"run/file{i}.txt": 12 for i in range(count)}
    assert read_object(moto, bucket, "run/file2999.txt") == b"Hello World!"


def test_retry_failed_resends_exactly_the_failed_files(tmp_path: Path, moto: LocalS3, bucket: str) -> None:
    src = generate(tmp_path / "src", 30)
    manifest = tmp_path / "first.jsonl"
    # A first run in which three files fail: broken links stand in their place.
    failing = ["file4.txt", "file9.txt", "file21.txt"]
    moved = {}
    for name in failing:
        moved[name] = (src / name).read_bytes()
        (src / name).unlink()
        (src / name).symlink_to(src / "nowhere")
    first = run_cli(
        "upload",
        str(src),
        f"s3://{bucket}",
        "--endpoint-url",
        moto.endpoint_url,
        "--follow-symlinks",
        "--manifest",
        str(manifest),
        "--json",
    )
    assert first.returncode == 1
    assert {Path(f["path"]).name for f in json.loads(first.stdout)["failed"]} == set(failing)

    for name, data in moved.items():  # the cause is fixed
        (src / name).unlink()
        (src / name).write_bytes(data)
    second_manifest = tmp_path / "second.jsonl"
    second = run_cli(
        "upload",
        str(src),
        f"s3://{bucket}",
        "--endpoint-url",
        moto.endpoint_url,
        "--retry-failed",
        str(manifest),
        "--manifest",
        str(second_manifest),
        "--json",
    )
    assert second.returncode == 0, second.stderr
    report = json.loads(second.stdout)
    assert (report["found"], report["uploaded"]) == (3, 3)
    sent = {json.loads(line)["key"] for line in second_manifest.read_text().splitlines()}
    assert sent == set(failing)
    assert len(all_keys(moto, bucket)) == 30


def test_retry_failed_with_a_missing_manifest_is_a_clean_error(tmp_path: Path) -> None:
    result = run_cli("upload", str(tmp_path), "s3://b", "--retry-failed", str(tmp_path / "none.jsonl"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "does not exist" in result.stderr
