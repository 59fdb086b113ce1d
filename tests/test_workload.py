"""The examples' 50,000-file workload against a moto server: complete and byte-exact."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

import s3flood
from examples.generate import CONTENT, generate
from s3flood.localstore import LocalS3
from tests.conftest import all_keys, read_object


@pytest.mark.slow
async def test_fifty_thousand_files_land_complete_and_byte_exact(
    tmp_path: Path, moto: LocalS3, bucket: str
) -> None:
    count = 50_000
    generate(tmp_path, count)
    report = await s3flood.upload_directory(tmp_path, bucket, endpoint_url=moto.endpoint_url, concurrency=100)
    assert (report.found, report.uploaded, report.skipped, report.failed) == (count, count, 0, ())
    assert report.bytes_uploaded == count * len(CONTENT)
    keys = all_keys(moto, bucket)
    assert keys == {f"file{i}.txt": len(CONTENT) for i in range(count)}
    for i in random.Random(7).sample(range(count), 50):
        assert read_object(moto, bucket, f"file{i}.txt") == CONTENT
