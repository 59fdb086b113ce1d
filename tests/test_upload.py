"""upload_directory against a moto server: what lands, what is reported, what is refused."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

import aioboto3
import pytest

import s3flood
from s3flood._client import ClientSettings, open_client
from s3flood.localstore import LocalS3, free_port
from tests.conftest import all_keys, make_run, read_object

ODD_NAMES = [
    "with space.txt",
    "ünïcödé.txt",
    "hash#.txt",
    "question?.txt",
    "percent%25.txt",
    "plus+sign.txt",
    "日本語/ファイル.txt",
    "a/b/c/deep.txt",
    ".hidden",
]


def make_tree(root: Path, names: list[str], content: bytes | None = None) -> dict[str, bytes]:
    made = {}
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        data = content if content is not None else f"content of {name}".encode()
        path.write_bytes(data)
        made[name] = data
    return made


async def test_odd_names_nested_trees_and_empty_files_land_byte_exact(
    tmp_path: Path, moto: LocalS3, bucket: str
) -> None:
    made = make_tree(tmp_path, [*ODD_NAMES, "empty.bin"])
    (tmp_path / "empty.bin").write_bytes(b"")
    made["empty.bin"] = b""
    (tmp_path / "empty-dir").mkdir()
    report = await s3flood.upload_directory(tmp_path, bucket, endpoint_url=moto.endpoint_url)
    assert report.ok
    assert (report.found, report.uploaded, report.skipped) == (len(made), len(made), 0)
    assert report.bytes_uploaded == sum(len(d) for d in made.values())
    assert all_keys(moto, bucket) == {k: len(d) for k, d in made.items()}
    for key, data in made.items():
        assert read_object(moto, bucket, key) == data


@pytest.mark.parametrize("prefix", ["photos/", "raw-", ""])
async def test_prefix_is_prepended_literally(tmp_path: Path, moto: LocalS3, bucket: str, prefix: str) -> None:
    make_tree(tmp_path, ["a.txt", "d/b.txt"])
    report = await s3flood.upload_directory(
        str(tmp_path), bucket, prefix=prefix, endpoint_url=moto.endpoint_url
    )
    assert report.uploaded == 2
    assert set(all_keys(moto, bucket)) == {prefix + "a.txt", prefix + "d/b.txt"}


async def test_links_and_fifos_are_counted_skipped_and_never_read(
    tmp_path: Path, moto: LocalS3, bucket: str
) -> None:
    make_tree(tmp_path, ["real/f.txt"])
    (tmp_path / "link-file").symlink_to(tmp_path / "real" / "f.txt")
    (tmp_path / "link-dir").symlink_to(tmp_path / "real")
    os.mkfifo(tmp_path / "fifo")
    async with asyncio.timeout(30):  # a FIFO opened for reading would hang here
        report = await s3flood.upload_directory(tmp_path, bucket, endpoint_url=moto.endpoint_url)
    assert (report.found, report.uploaded, report.skipped, report.failed) == (4, 1, 3, ())
    assert set(all_keys(moto, bucket)) == {"real/f.txt"}

    followed = await s3flood.upload_directory(
        tmp_path, bucket, prefix="f/", endpoint_url=moto.endpoint_url, follow_symlinks=True
    )
    assert followed.uploaded == 2  # real/f.txt and link-file; link-dir is real/ again
    assert followed.skipped == 1  # the FIFO


async def test_include_exclude(tmp_path: Path, moto: LocalS3, bucket: str) -> None:
    make_tree(tmp_path, ["a.txt", "b.tmp", "d/c.txt", "d/e.tmp"])
    report = await s3flood.upload_directory(
        tmp_path, bucket, endpoint_url=moto.endpoint_url, include=["*.txt", "*.tmp"], exclude=["*.tmp"]
    )
    assert report.found == 2
    assert set(all_keys(moto, bucket)) == {"a.txt", "d/c.txt"}


async def test_missing_bucket_raises_destination_error_promptly(tmp_path: Path, moto: LocalS3) -> None:
    make_tree(tmp_path, [f"f{i}" for i in range(2000)])
    started = time.monotonic()
    with pytest.raises(s3flood.DestinationError, match="NoSuchBucket") as info:
        await s3flood.upload_directory(tmp_path, "no-such-bucket-here", endpoint_url=moto.endpoint_url)
    assert time.monotonic() - started < 10
    assert info.value.code == "NoSuchBucket"


async def test_unreachable_endpoint_raises_destination_error(tmp_path: Path) -> None:
    make_tree(tmp_path, ["a", "b"])
    with pytest.raises(s3flood.DestinationError, match="cannot reach") as info:
        await s3flood.upload_directory(
            tmp_path, "bucket", endpoint_url=f"http://127.0.0.1:{free_port()}", max_attempts=2
        )
    assert info.value.code == "EndpointUnreachable"


async def test_missing_credentials_raise_destination_error(
    tmp_path: Path, moto: LocalS3, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_tree(tmp_path, ["a"])
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(variable)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(s3flood.DestinationError, match="no AWS credentials"):
        await s3flood.upload_directory(tmp_path, "bucket", endpoint_url=moto.endpoint_url)


async def test_bad_source_raises_source_error_before_anything_is_sent(tmp_path: Path, moto: LocalS3) -> None:
    with pytest.raises(s3flood.SourceError):
        await s3flood.upload_directory(tmp_path / "missing", "b", endpoint_url=moto.endpoint_url)
    (tmp_path / "file").write_text("x")
    with pytest.raises(s3flood.SourceError):
        await s3flood.upload_directory(tmp_path / "file", "b", endpoint_url=moto.endpoint_url)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"concurrency": 0},
        {"concurrency": -1},
        {"max_attempts": 0},
        {"part_size": 1024},
        {"checksum": "crc64"},
        {"processes": 0},
        {"include": "*.txt"},
        {"client": object(), "endpoint_url": "http://x"},
    ],
)
async def test_bad_arguments_raise_value_error(tmp_path: Path, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 (the message varies by argument)
        await s3flood.upload_directory(tmp_path, "bucket", **kwargs)


async def test_manifest_has_one_line_per_file_with_its_outcome(
    tmp_path: Path, moto: LocalS3, bucket: str
) -> None:
    src = tmp_path / "src"
    make_tree(src, ["a.txt", "b/c.txt"])
    (src / "link").symlink_to(src / "a.txt")
    manifest = tmp_path / "manifest.jsonl"
    report = await s3flood.upload_directory(src, bucket, endpoint_url=moto.endpoint_url, manifest=manifest)
    lines = [json.loads(line) for line in manifest.read_text().splitlines()]
    assert len(lines) == report.found == 3
    by_key = {line["key"]: line for line in lines}
    assert by_key["a.txt"]["outcome"] == "uploaded"
    assert by_key["a.txt"]["attempts"] == 1
    assert by_key["a.txt"]["error"] is None
    assert by_key["a.txt"]["size"] == len("content of a.txt")
    assert by_key["a.txt"]["path"] == str(src / "a.txt")
    assert by_key["link"]["outcome"] == "skipped"


async def test_dry_run_writes_nothing_and_counts_what_would_go(
    tmp_path: Path, moto: LocalS3, bucket: str
) -> None:
    made = make_tree(tmp_path, ["a.txt", "b/c.txt"])
    report = await s3flood.upload_directory(tmp_path, bucket, endpoint_url=moto.endpoint_url, dry_run=True)
    assert report.dry_run
    assert report.uploaded == 2
    assert report.bytes_uploaded == sum(len(d) for d in made.values())
    assert all_keys(moto, bucket) == {}


async def test_a_file_that_vanishes_fails_with_its_reason_and_others_land(
    tmp_path: Path, moto: LocalS3, bucket: str
) -> None:
    make_tree(tmp_path, [f"f{i:03}" for i in range(50)])
    gone = tmp_path / "f025"

    def on_progress(event: s3flood.ProgressEvent) -> None:
        if event.kind == "found" and event.path == str(gone):
            gone.unlink()

    report = await s3flood.upload_directory(
        tmp_path, bucket, endpoint_url=moto.endpoint_url, on_progress=on_progress
    )
    assert report.found == 50
    assert report.uploaded == 49
    (failure,) = report.failed
    assert failure.path == str(gone)
    assert failure.key == "f025"
    assert "vanished" in failure.error
    with pytest.raises(s3flood.UploadFailedError) as info:
        report.raise_for_failures()
    assert info.value.report is report


async def test_progress_events_count_files_and_bytes(tmp_path: Path, moto: LocalS3, bucket: str) -> None:
    made = make_tree(tmp_path, [f"d{i % 3}/f{i}" for i in range(30)])
    events: list[s3flood.ProgressEvent] = []
    report = await s3flood.upload_directory(
        tmp_path, bucket, endpoint_url=moto.endpoint_url, on_progress=events.append
    )
    last = events[-1]
    assert (last.files_found, last.files_done) == (30, 30)
    assert last.bytes_done == last.bytes_found == sum(len(d) for d in made.values())
    assert last.walk_finished
    assert sum(1 for e in events if e.kind == "uploaded") == report.uploaded == 30
    with pytest.raises(AttributeError):
        last.kind = "found"  # type: ignore[misc]


async def test_requests_in_flight_never_exceed_concurrency_and_reach_it(
    tmp_path: Path, moto: LocalS3, bucket: str
) -> None:
    make_tree(tmp_path, [f"f{i}" for i in range(200)])
    run = make_run(
        tmp_path,
        bucket,
        concurrency=8,
        endpoint_url=moto.endpoint_url,
    )
    report = await run.execute()
    assert report.uploaded == 200
    assert run.limiter is not None
    assert run.limiter.max_in_flight == 8


async def test_a_callers_session_and_client_are_used_and_the_client_left_open(
    tmp_path: Path, moto: LocalS3, bucket: str
) -> None:
    make_tree(tmp_path, ["a", "b"])
    session = aioboto3.Session(region_name="us-east-1")
    report = await s3flood.upload_directory(tmp_path, bucket, endpoint_url=moto.endpoint_url, session=session)
    assert report.uploaded == 2
    async with session.client("s3", endpoint_url=moto.endpoint_url) as client:
        report = await s3flood.upload_directory(tmp_path, bucket, prefix="c/", client=client)
        assert report.uploaded == 2
        await client.head_object(Bucket=bucket, Key="c/a")  # still open


async def test_content_type_is_guessed_from_the_name(tmp_path: Path, moto: LocalS3, bucket: str) -> None:
    make_tree(tmp_path, ["page.html", "data.json", "noext"])
    await s3flood.upload_directory(tmp_path, bucket, endpoint_url=moto.endpoint_url)
    client = moto.client()
    assert client.head_object(Bucket=bucket, Key="page.html")["ContentType"] == "text/html"
    assert client.head_object(Bucket=bucket, Key="data.json")["ContentType"] == "application/json"


def test_public_names_are_pinned() -> None:
    assert sorted(s3flood.__all__) == sorted(
        [
            "DestinationError",
            "FailedUpload",
            "ProgressEvent",
            "S3FloodError",
            "SourceError",
            "UploadFailedError",
            "UploadReport",
            "__version__",
            "upload_directory",
        ]
    )
    assert issubclass(s3flood.SourceError, s3flood.S3FloodError)
    assert issubclass(s3flood.DestinationError, s3flood.S3FloodError)
    assert issubclass(s3flood.UploadFailedError, s3flood.S3FloodError)


async def test_our_sessions_read_timestamps_as_botocore_does(
    moto: LocalS3, bucket: str, aio_client: Any
) -> None:
    await aio_client.put_object(Bucket=bucket, Key="k", Body=b"x")
    async with open_client(ClientSettings(concurrency=1, endpoint_url=moto.endpoint_url)) as ours:
        listed = (await ours.list_objects_v2(Bucket=bucket))["Contents"][0]["LastModified"]  # ISO 8601
        headed = (await ours.head_object(Bucket=bucket, Key="k"))["LastModified"]  # an HTTP date
    assert listed == (await aio_client.list_objects_v2(Bucket=bucket))["Contents"][0]["LastModified"]
    assert headed == (await aio_client.head_object(Bucket=bucket, Key="k"))["LastModified"]
    assert listed.tzinfo is not None
