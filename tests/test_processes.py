"""processes=N: one walk, several worker processes, one report that accounts for every file."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

import s3flood
from examples.generate import generate
from s3flood._options import AUTO_PROCESSES_MIN_FILES
from s3flood._processes import shard_of, split
from s3flood.localstore import LocalS3
from tests.conftest import all_keys, make_run, open_uploads, read_object
from tests.faultproxy import Fault, FaultProxy, Request

MiB = 1024 * 1024


async def test_two_processes_upload_everything_into_one_report(
    tmp_path: Path, moto: LocalS3, bucket: str
) -> None:
    src = generate(tmp_path / "src", 600)
    (src / "big.bin").write_bytes(os.urandom(6 * MiB))
    (src / "link").symlink_to(src / "file1.txt")
    manifest = tmp_path / "m.jsonl"
    events: list[s3flood.ProgressEvent] = []
    report = await s3flood.upload_directory(
        src,
        bucket,
        endpoint_url=moto.endpoint_url,
        processes=2,
        concurrency=20,
        manifest=manifest,
        multipart_threshold=5 * MiB,
        part_size=5 * MiB,
        on_progress=events.append,
    )
    assert (report.found, report.uploaded, report.skipped, report.failed) == (602, 601, 1, ())
    assert report.bytes_uploaded == 600 * 12 + 6 * MiB
    assert len(all_keys(moto, bucket)) == 601
    assert read_object(moto, bucket, "big.bin") == (src / "big.bin").read_bytes()
    lines = [json.loads(line) for line in manifest.read_text().splitlines()]
    assert len(lines) == 602
    assert len({line["key"] for line in lines}) == 602
    assert events[-1].files_done == 602
    assert events[-1].bytes_done == report.bytes_uploaded


async def test_skip_unchanged_with_processes_routes_each_key_to_its_shard(
    tmp_path: Path, moto: LocalS3, bucket: str
) -> None:
    src = generate(tmp_path / "src", 300)
    await s3flood.upload_directory(src, bucket, endpoint_url=moto.endpoint_url)
    (src / "file7.txt").write_text("Hello there!")
    again = await s3flood.upload_directory(
        src, bucket, endpoint_url=moto.endpoint_url, processes=3, skip_unchanged=True
    )
    assert (again.found, again.uploaded, again.skipped, again.failed) == (300, 1, 299, ())


async def test_a_fatal_error_in_a_worker_raises_destination_error(tmp_path: Path, moto: LocalS3) -> None:
    generate(tmp_path, 200)
    with pytest.raises(s3flood.DestinationError, match="NoSuchBucket"):
        await s3flood.upload_directory(
            tmp_path, "no-such-bucket-z", endpoint_url=moto.endpoint_url, processes=2
        )


async def test_cancelling_stops_the_workers_aborts_uploads_and_accounts_for_every_file(
    tmp_path: Path, moto: LocalS3, bucket: str
) -> None:
    generate(tmp_path, 100)
    for i in range(2):
        (tmp_path / f"big{i}.bin").write_bytes(os.urandom(11 * MiB))

    def stall(request: Request) -> Fault | None:
        return Fault("stall", seconds=60) if request.method == "PUT" else None

    with FaultProxy(moto.endpoint_url, stall) as proxy:
        run = make_run(
            tmp_path,
            bucket,
            endpoint_url=proxy.url,
            processes=2,
            multipart_threshold=5 * MiB,
            part_size=5 * MiB,
        )
        task = asyncio.create_task(run.execute())
        async with asyncio.timeout(30):
            while len(open_uploads(moto, bucket)) < 2:
                await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    report = run.report(interrupted=True)
    assert report.found == report.uploaded + report.skipped + len(report.failed)
    assert report.found > 0
    assert open_uploads(moto, bucket) == []


async def test_one_process_by_default_and_auto_uses_every_core_for_a_large_tree_only(
    tmp_path: Path, moto: LocalS3, bucket: str, aio_client: object
) -> None:
    cores = len(os.sched_getaffinity(0))
    large = generate(tmp_path / "large", AUTO_PROCESSES_MIN_FILES + 1)
    small = generate(tmp_path / "small", AUTO_PROCESSES_MIN_FILES)

    run = make_run(large, bucket, endpoint_url=moto.endpoint_url, prefix="default/")
    assert (await run.execute()).uploaded == AUTO_PROCESSES_MIN_FILES + 1
    assert run.process_count == 1  # the default is one process; "auto" is asked for

    run = make_run(large, bucket, endpoint_url=moto.endpoint_url, prefix="large/", processes="auto")
    report = await run.execute()
    assert run.process_count == (min(cores, 4) if cores > 1 else 1)
    assert report.uploaded == AUTO_PROCESSES_MIN_FILES + 1  # the peeked entries were not lost
    assert len(all_keys(moto, bucket, "large/")) == AUTO_PROCESSES_MIN_FILES + 1

    run = make_run(small, bucket, endpoint_url=moto.endpoint_url, prefix="small/", processes="auto")
    assert (await run.execute()).uploaded == AUTO_PROCESSES_MIN_FILES
    assert run.process_count == 1

    # a client cannot cross processes
    run = make_run(large, bucket, client=aio_client, prefix="again/", processes="auto")
    assert (await run.execute()).uploaded == AUTO_PROCESSES_MIN_FILES + 1
    assert run.process_count == 1

    run = make_run(
        large, bucket, endpoint_url=moto.endpoint_url, prefix="large/", skip_unchanged=True, processes="auto"
    )
    assert (await run.execute()).skipped == AUTO_PROCESSES_MIN_FILES + 1
    assert run.process_count == 1  # one listing, not one per worker


def test_splitting_keeps_the_totals_and_shards_are_stable() -> None:
    assert sum(split(100, 3, i) for i in range(3)) == 100
    assert [split(5, 2, i) for i in range(2)] == [3, 2]
    assert split(1, 4, 3) == 1
    assert shard_of("photos/a.jpg", 4) == shard_of("photos/a.jpg", 4)
    assert {shard_of(f"k{i}", 4) for i in range(100)} == {0, 1, 2, 3}


async def test_a_client_cannot_be_shared_with_worker_processes(tmp_path: Path, aio_client: object) -> None:
    with pytest.raises(ValueError, match="processes"):
        await s3flood.upload_directory(tmp_path, "bucket", client=aio_client, processes=2)
