"""Large files: multipart boundaries, integrity in flight, nothing left behind, no torn objects."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

import pytest

import s3flood
from s3flood import _body, _multipart
from s3flood._multipart import MIN_PART_SIZE, plan_parts
from s3flood.localstore import LocalS3
from tests.conftest import all_keys, open_uploads, read_object
from tests.faultproxy import FLIP, INTERNAL, Fault, FaultProxy, Request

MiB = 1024 * 1024
THRESHOLD = 5 * MiB


def write_random(path: Path, size: int) -> bytes:
    data = os.urandom(size)
    path.write_bytes(data)
    return data


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("store_name", ["seaweedfs", "moto"])
async def test_sizes_around_the_threshold_land_byte_exact(
    tmp_path: Path, store_name: str, request: pytest.FixtureRequest
) -> None:
    store: LocalS3 = request.getfixturevalue(store_name)
    bucket = request.getfixturevalue("weed_bucket" if store_name == "seaweedfs" else "bucket")
    sizes = {
        "zero": 0,
        "one": 1,
        "below": THRESHOLD - 1,
        "at": THRESHOLD,
        "above": THRESHOLD + 1,
        "three-parts": 2 * THRESHOLD + 3,
    }
    made = {name: write_random(tmp_path / name, size) for name, size in sizes.items()}
    report = await s3flood.upload_directory(
        tmp_path, bucket, endpoint_url=store.endpoint_url, multipart_threshold=THRESHOLD, part_size=THRESHOLD
    )
    assert report.ok, report.failed
    assert report.uploaded == len(sizes)
    assert report.bytes_uploaded == sum(sizes.values())
    assert all_keys(store, bucket) == sizes
    for name, data in made.items():
        assert sha(read_object(store, bucket, name)) == sha(data), name
    assert open_uploads(store, bucket) == []
    # The multipart ones really went as multipart (their ETag says how many parts).
    client = store.client()
    assert client.head_object(Bucket=bucket, Key="three-parts")["ETag"].strip('"').endswith("-3")
    assert "-" not in client.head_object(Bucket=bucket, Key="below")["ETag"]


def test_part_size_grows_to_stay_within_the_part_limit() -> None:
    assert plan_parts(100 * MiB, 8 * MiB) == _multipart.PartPlan(8 * MiB, 13)
    assert plan_parts(5 * 1024**4, 8 * MiB).count <= 10_000
    big = plan_parts(5 * 1024**4, 5 * MiB)
    assert big.count <= 10_000
    assert big.part_size >= MIN_PART_SIZE
    assert plan_parts(0, 8 * MiB).count == 1


async def test_a_file_needing_bigger_parts_uses_them(
    tmp_path: Path, moto: LocalS3, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_multipart, "MAX_PARTS", 2)  # as if S3 allowed 2 parts: 5 MiB parts must grow
    data = write_random(tmp_path / "big", 3 * THRESHOLD)
    report = await s3flood.upload_directory(
        tmp_path, bucket, endpoint_url=moto.endpoint_url, multipart_threshold=THRESHOLD, part_size=THRESHOLD
    )
    assert report.ok
    assert read_object(moto, bucket, "big") == data
    assert moto.client().head_object(Bucket=bucket, Key="big")["ETag"].strip('"').endswith("-2")


def flip_first_body_of_each(keys_seen: set[str]) -> object:
    def decide(request: Request) -> Fault | None:
        if request.method != "PUT" or not request.body:
            return None
        identity = f"{request.key}?{request.query}"
        if identity in keys_seen:
            return None
        keys_seen.add(identity)
        return FLIP

    return decide


@pytest.mark.parametrize("checksum", ["crc32", "md5", "sha256"])
async def test_a_body_corrupted_in_flight_is_rejected_then_resent(
    tmp_path: Path, seaweedfs: LocalS3, weed_bucket: str, checksum: str
) -> None:
    small = write_random(tmp_path / "small", 1000)
    large = write_random(tmp_path / "large", 2 * THRESHOLD + 10)
    seen: set[str] = set()
    with FaultProxy(seaweedfs.endpoint_url, flip_first_body_of_each(seen)) as proxy:  # type: ignore[arg-type]
        report = await s3flood.upload_directory(
            tmp_path,
            weed_bucket,
            endpoint_url=proxy.url,
            multipart_threshold=THRESHOLD,
            part_size=THRESHOLD,
            checksum=checksum,  # type: ignore[arg-type]
        )
        flipped = proxy.stats.faults["flip"]
    assert flipped == 4  # the small PUT and three parts, each corrupted once
    assert report.ok, report.failed
    assert report.retries == 2  # per file: attempts - 1, where a multipart file's is its worst part's
    assert read_object(seaweedfs, weed_bucket, "small") == small
    assert read_object(seaweedfs, weed_bucket, "large") == large


async def test_without_a_checksum_a_corrupted_body_would_be_stored(
    tmp_path: Path, seaweedfs: LocalS3, weed_bucket: str
) -> None:
    """The control for the test above: it is the checksum that catches the flip."""
    small = write_random(tmp_path / "small", 1000)
    with FaultProxy(seaweedfs.endpoint_url, flip_first_body_of_each(set())) as proxy:  # type: ignore[arg-type]
        report = await s3flood.upload_directory(tmp_path, weed_bucket, endpoint_url=proxy.url, checksum=None)
    assert report.ok
    assert read_object(seaweedfs, weed_bucket, "small") != small


@pytest.mark.parametrize("checksum", ["crc32", None])
async def test_sigv4_hashes_the_body_only_when_no_checksum_covers_it(
    tmp_path: Path, moto: LocalS3, bucket: str, checksum: str | None
) -> None:
    small = write_random(tmp_path / "small", 1000)
    write_random(tmp_path / "large", 2 * THRESHOLD)
    signed: dict[str, str] = {}

    def record(request: Request) -> None:
        if request.method == "PUT":
            headers = {k.lower(): v for k, v in request.headers.items()}
            signed[f"{request.key}?{request.query}"] = headers["x-amz-content-sha256"]

    with FaultProxy(moto.endpoint_url, record) as proxy:
        report = await s3flood.upload_directory(
            tmp_path,
            bucket,
            endpoint_url=proxy.url,
            multipart_threshold=THRESHOLD,
            part_size=THRESHOLD,
            checksum=checksum,  # type: ignore[arg-type]
        )
    assert report.uploaded == 2
    assert len(signed) == 3  # the small PUT and two parts
    if checksum is None:
        assert signed["small?"] == hashlib.sha256(small).hexdigest()
        assert "UNSIGNED-PAYLOAD" not in signed.values()
    else:
        assert set(signed.values()) == {"UNSIGNED-PAYLOAD"}


async def test_a_part_that_always_fails_fails_the_file_and_leaves_no_upload_open(
    tmp_path: Path, moto: LocalS3, bucket: str
) -> None:
    write_random(tmp_path / "doomed", 3 * THRESHOLD)
    fine = write_random(tmp_path / "fine", 100)

    def fail_part_two(request: Request) -> Fault | None:
        return INTERNAL if "partNumber=2" in request.query else None

    events: list[s3flood.ProgressEvent] = []
    with FaultProxy(moto.endpoint_url, fail_part_two) as proxy:
        report = await s3flood.upload_directory(
            tmp_path,
            bucket,
            endpoint_url=proxy.url,
            multipart_threshold=THRESHOLD,
            part_size=THRESHOLD,
            max_attempts=3,
            on_progress=events.append,
        )
        part_two_requests = proxy.stats.faults["status"]
    assert report.uploaded == 1
    (failure,) = report.failed
    assert failure.key == "doomed"
    assert failure.attempts == 3
    assert "part 2/3" in failure.error
    assert part_two_requests == 3
    assert open_uploads(moto, bucket) == []
    assert set(all_keys(moto, bucket)) == {"fine"}
    assert read_object(moto, bucket, "fine") == fine
    # Bytes counted for parts 1 and 3 were taken back when the file failed.
    assert events[-1].bytes_done == 100


async def test_cancelling_mid_upload_aborts_the_multipart_upload(
    tmp_path: Path, moto: LocalS3, bucket: str
) -> None:
    write_random(tmp_path / "big", 3 * THRESHOLD)

    def stall_parts(request: Request) -> Fault | None:
        return Fault("stall", seconds=30) if "partNumber=" in request.query else None

    with FaultProxy(moto.endpoint_url, stall_parts) as proxy:
        task = asyncio.create_task(
            s3flood.upload_directory(
                tmp_path, bucket, endpoint_url=proxy.url, multipart_threshold=THRESHOLD, part_size=THRESHOLD
            )
        )
        async with asyncio.timeout(20):
            while not open_uploads(moto, bucket) or proxy.stats.in_flight < 3:
                await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert open_uploads(moto, bucket) == []
    assert all_keys(moto, bucket) == {}


async def test_cancelling_while_the_create_answer_is_on_its_way_aborts_what_it_made(
    tmp_path: Path, moto: LocalS3, bucket: str
) -> None:
    write_random(tmp_path / "big", 2 * THRESHOLD)

    def hold_create_answer(request: Request) -> Fault | None:
        creates = request.method == "POST" and request.query == "uploads"
        return Fault("late", seconds=3) if creates else None

    with FaultProxy(moto.endpoint_url, hold_create_answer) as proxy:
        task = asyncio.create_task(
            s3flood.upload_directory(
                tmp_path, bucket, endpoint_url=proxy.url, multipart_threshold=THRESHOLD, part_size=THRESHOLD
            )
        )
        async with asyncio.timeout(20):
            while not open_uploads(moto, bucket):  # made on the server, the id not yet known to us
                await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert open_uploads(moto, bucket) == []
    assert all_keys(moto, bucket) == {}


async def test_a_file_rewritten_between_two_part_reads_is_resent_never_stored_torn(
    tmp_path: Path, moto: LocalS3, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "moving"
    old = b"A" * (3 * THRESHOLD)
    new = b"B" * (3 * THRESHOLD)
    path.write_bytes(old)
    real_read_range = _body.read_range
    reads = 0

    def rewrite_after_the_first_part(fd: int, offset: int, length: int, expected: _body.Snapshot) -> bytes:
        nonlocal reads
        reads += 1
        data = real_read_range(fd, offset, length, expected)
        if reads == 1:
            path.write_bytes(new)
            os.utime(path, ns=(1, 1))  # a different mtime even on a coarse clock
        return data

    monkeypatch.setattr(_multipart, "read_range", rewrite_after_the_first_part)
    report = await s3flood.upload_directory(
        tmp_path,
        bucket,
        endpoint_url=moto.endpoint_url,
        multipart_threshold=THRESHOLD,
        part_size=THRESHOLD,
        max_attempts=3,
    )
    assert report.ok, report.failed
    assert report.retries == 1
    assert read_object(moto, bucket, "moving") == new  # all new bytes: retried, not torn
    assert open_uploads(moto, bucket) == []


async def test_a_file_that_keeps_changing_fails_as_changed_during_upload(
    tmp_path: Path, moto: LocalS3, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "log"
    path.write_bytes(b"x" * (2 * THRESHOLD))
    real_read_range = _body.read_range
    stamp = 0

    def always_being_written(fd: int, offset: int, length: int, expected: _body.Snapshot) -> bytes:
        nonlocal stamp
        stamp += 1
        os.utime(path, ns=(stamp, stamp))
        return real_read_range(fd, offset, length, expected)

    monkeypatch.setattr(_multipart, "read_range", always_being_written)
    report = await s3flood.upload_directory(
        tmp_path,
        bucket,
        endpoint_url=moto.endpoint_url,
        multipart_threshold=THRESHOLD,
        part_size=THRESHOLD,
        max_attempts=3,
    )
    (failure,) = report.failed
    assert failure.error == "changed during upload"
    assert failure.attempts == 3
    assert all_keys(moto, bucket) == {}
    assert open_uploads(moto, bucket) == []


async def test_a_small_file_rewritten_while_read_is_retried_not_torn(
    tmp_path: Path, moto: LocalS3, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "small"
    path.write_bytes(b"first version")
    real_snapshot = _body._snapshot
    calls = 0

    def snapshot_with_a_write_in_between(fd: int) -> _body.Snapshot:
        nonlocal calls
        calls += 1
        if calls == 1:  # between the first fstat and the read, someone writes
            result = real_snapshot(fd)
            path.write_bytes(b"second version!")
            return result
        return real_snapshot(fd)

    monkeypatch.setattr(_body, "_snapshot", snapshot_with_a_write_in_between)
    report = await s3flood.upload_directory(tmp_path, bucket, endpoint_url=moto.endpoint_url)
    assert report.ok
    assert report.retries == 1
    assert read_object(moto, bucket, "small") == b"second version!"
