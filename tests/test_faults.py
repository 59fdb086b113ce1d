"""Reliability under faults, through the fault-injecting proxy: nothing lost, nothing hung."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import s3flood
from examples.generate import generate
from s3flood.localstore import LocalS3, free_port
from tests.conftest import all_keys, make_run, open_uploads, read_object
from tests.faultproxy import (
    INTERNAL,
    RESET_AFTER,
    RESET_BEFORE,
    SLOW_DOWN,
    TRUNCATE,
    Fault,
    FaultProxy,
    Request,
    random_faults,
)

MiB = 1024 * 1024
STALL = Fault("stall", seconds=1.5)


def table_row(scenario: str, faults: object, lost: int, per_key: int, wall: float) -> None:
    """One row of the reliability table (shown with pytest -s)."""
    print(f"\nFAULTS| {scenario} | {faults} | {lost} | {per_key} | {wall:.1f}s |")


def outcomes_from(manifest: Path) -> dict[str, list[dict[str, Any]]]:
    by_key: dict[str, list[dict[str, Any]]] = {}
    for line in manifest.read_text().splitlines():
        record = json.loads(line)
        by_key.setdefault(record["key"], []).append(record)
    return by_key


def make_files(root: Path, small: int, large: int = 0) -> dict[str, bytes]:
    made = {}
    root.mkdir(parents=True, exist_ok=True)
    for i in range(small):
        data = f"small file number {i}".encode()
        (root / f"s{i:04}.txt").write_bytes(data)
        made[f"s{i:04}.txt"] = data
    for i in range(large):
        data = os.urandom(6 * MiB)
        (root / f"big{i}.bin").write_bytes(data)
        made[f"big{i}.bin"] = data
    return made


async def test_random_faults_of_every_kind_lose_nothing(tmp_path: Path, moto: LocalS3, bucket: str) -> None:
    made = make_files(tmp_path / "src", 150, large=2)
    manifest = tmp_path / "m.jsonl"
    faults = [SLOW_DOWN, INTERNAL, RESET_BEFORE, RESET_AFTER, TRUNCATE, STALL]
    started = time.monotonic()
    with FaultProxy(moto.endpoint_url, random_faults(0.3, seed=11, faults=faults)) as proxy:
        async with asyncio.timeout(240):
            run = make_run(
                tmp_path / "src",
                bucket,
                endpoint_url=proxy.url,
                concurrency=20,
                max_attempts=12,
                read_timeout=0.5,
                manifest=manifest,
                multipart_threshold=5 * MiB,
                part_size=5 * MiB,
            )
            report = await run.execute()
        stats = proxy.stats
    assert report.ok, report.failed[:3]
    assert report.uploaded == len(made)
    assert report.retries > 0
    assert set(stats.faults) == {"status", "reset_before", "reset_after", "truncate", "stall"}
    # Counted by the client: a request cut off by the read timeout closes its socket, and the proxy may
    # read the next request before that close, so its own count can show one more for an instant.
    # test_requests_in_flight_never_exceed_concurrency measures the bound at the proxy, with no cut-offs.
    assert run.limiter is not None
    assert run.limiter.max_in_flight <= 20
    by_key = outcomes_from(manifest)
    assert set(by_key) == set(made)
    assert all(len(records) == 1 for records in by_key.values())  # exactly one outcome each
    for key, data in made.items():
        assert read_object(moto, bucket, key) == data, key
    assert open_uploads(moto, bucket) == []
    table_row(
        "30% random faults, 152 files (2 multipart)",
        dict(stats.faults),
        len(made) - report.uploaded,
        max(stats.requests[k] for k in made if k.endswith(".txt")),
        time.monotonic() - started,
    )


async def test_every_key_failing_its_first_three_attempts_completes_with_concurrency_2(
    tmp_path: Path, moto: LocalS3, bucket: str
) -> None:
    made = make_files(tmp_path, 60)

    def first_three_fail(request: Request) -> Fault | None:
        return INTERNAL if request.method == "PUT" and proxy.stats.requests[request.key] <= 3 else None

    started = time.monotonic()
    with FaultProxy(moto.endpoint_url, first_three_fail) as proxy:
        async with asyncio.timeout(120):
            report = await s3flood.upload_directory(tmp_path, bucket, endpoint_url=proxy.url, concurrency=2)
        requests = dict(proxy.stats.requests)
    assert report.uploaded == 60
    assert report.retries == 60 * 3
    assert all(requests[key] == 4 for key in made)
    table_row(
        "every key fails its first 3 attempts, concurrency 2, 60 files",
        "180 x 500",
        60 - report.uploaded,
        max(requests[k] for k in made),
        time.monotonic() - started,
    )


async def test_failing_forever_ends_promptly_with_exactly_max_attempts_requests_per_key(
    tmp_path: Path, moto: LocalS3, bucket: str
) -> None:
    make_files(tmp_path, 100)
    with FaultProxy(moto.endpoint_url, lambda request: INTERNAL) as proxy:
        started = time.monotonic()
        report = await s3flood.upload_directory(
            tmp_path, bucket, endpoint_url=proxy.url, concurrency=10, max_attempts=3
        )
        took = time.monotonic() - started
        requests = dict(proxy.stats.requests)
    assert took < 30
    assert report.uploaded == 0
    assert len(report.failed) == 100
    assert all(f.attempts == 3 and f.error.startswith("InternalError") for f in report.failed)
    assert max(requests.values()) == 3  # botocore adds none of its own: s3flood owns every retry
    assert len(requests) == 100
    table_row("100% failure forever, max_attempts=3, 100 files", "300 x 500", 0, max(requests.values()), took)


async def test_requests_in_flight_never_exceed_concurrency(
    tmp_path: Path, moto: LocalS3, bucket: str
) -> None:
    make_files(tmp_path / "src", 80, large=2)

    def slow(request: Request) -> Fault | None:
        return Fault("stall", seconds=0.05)

    with FaultProxy(moto.endpoint_url, slow) as proxy:
        report = await s3flood.upload_directory(
            tmp_path / "src",
            bucket,
            endpoint_url=proxy.url,
            concurrency=7,
            multipart_threshold=5 * MiB,
            part_size=5 * MiB,
        )
        highest = proxy.stats.max_in_flight
    assert report.uploaded == 82
    assert highest == 7


class Throttle:
    """Answers SlowDown to whatever exceeds ``rate`` requests per second (a token bucket)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.tokens = rate / 10
        self.last = time.monotonic()
        self.accepted = 0
        self.throttled = 0

    def __call__(self, request: Request) -> Fault | None:
        if request.method != "PUT":
            return None
        now = time.monotonic()
        self.tokens = min(self.rate / 10, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1:
            self.tokens -= 1
            self.accepted += 1
            return None
        self.throttled += 1
        return SLOW_DOWN


async def throttled_run(
    root: Path, store: LocalS3, bucket: str, *, adaptive: bool
) -> tuple[Any, Throttle, float]:
    throttle = Throttle(rate=80)
    with FaultProxy(store.endpoint_url, throttle) as proxy:
        run = make_run(
            root,
            bucket,
            endpoint_url=proxy.url,
            adaptive=adaptive,
            prefix="adaptive/" if adaptive else "fixed/",
        )
        started = time.monotonic()
        async with asyncio.timeout(120):
            report = await run.execute()
        return report, throttle, time.monotonic() - started


async def test_throttling_is_met_by_pacing_near_the_accepted_rate_and_nothing_fails(
    tmp_path: Path, moto: LocalS3, bucket: str
) -> None:
    make_files(tmp_path, 800)
    adaptive, throttle, took = await throttled_run(tmp_path, moto, bucket, adaptive=True)
    fixed, _, _ = await throttled_run(tmp_path, moto, bucket, adaptive=False)
    assert adaptive.ok, adaptive.failed[:3]
    assert adaptive.uploaded == 800
    accepted_rate = throttle.accepted / took
    assert 0.5 * throttle.rate <= accepted_rate <= 1.2 * throttle.rate
    assert throttle.throttled < throttle.accepted  # it settled, rather than hammering
    # The same run without pacing burns attempts on SlowDown until files fail.
    assert len(fixed.failed) > 0
    assert all("SlowDown" in f.error for f in fixed.failed)
    table_row(
        f"SlowDown above 80 PUT/s, 800 files (accepted {accepted_rate:.0f}/s)",
        f"{throttle.throttled} x 503",
        800 - adaptive.uploaded,
        -1,
        took,
    )
    table_row("the same, without pacing", "(fixed-rate retries)", len(fixed.failed), -1, 0.0)


def test_a_silent_server_never_hangs_the_run(tmp_path: Path) -> None:
    make_files(tmp_path, 5)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(100)
    accepted: list[socket.socket] = []
    threading.Thread(
        target=lambda: accepted.extend(iter(lambda: listener.accept()[0], None)), daemon=True
    ).start()
    try:
        started = time.monotonic()
        with pytest.raises(s3flood.DestinationError, match="Read timeout"):
            asyncio.run(
                s3flood.upload_directory(
                    tmp_path,
                    "bucket",
                    endpoint_url=f"http://127.0.0.1:{listener.getsockname()[1]}",
                    read_timeout=0.5,
                    max_attempts=2,
                )
            )
        assert time.monotonic() - started < 15
    finally:
        listener.close()


@pytest.mark.slow
def test_fifty_thousand_files_with_256_open_files_and_concurrency_100(
    tmp_path: Path, seaweedfs: LocalS3, weed_bucket: str
) -> None:
    generate(tmp_path / "src", 50_000)

    def low_file_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "s3flood",
            "upload",
            str(tmp_path / "src"),
            f"s3://{weed_bucket}/u",
            "--endpoint-url",
            seaweedfs.endpoint_url,
            "--concurrency",
            "100",
            "--json",
        ],
        capture_output=True,
        text=True,
        preexec_fn=low_file_limit,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert report["uploaded"] == 50_000
    assert len(all_keys(seaweedfs, weed_bucket, "u/")) == 50_000


SECRET = "s3flood-test-secret-DO-NOT-LEAK-0123456789"


def test_the_secret_key_never_appears_in_output_logs_or_manifest(
    tmp_path: Path, moto: LocalS3, bucket: str
) -> None:
    make_files(tmp_path / "src", 5)
    env = dict(os.environ, AWS_ACCESS_KEY_ID="AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY=SECRET)
    manifest = tmp_path / "m.jsonl"
    runs = [
        [
            "upload",
            str(tmp_path / "src"),
            f"s3://{bucket}",
            "--endpoint-url",
            moto.endpoint_url,
            "--debug",
            "--manifest",
            str(manifest),
            "--json",
        ],
        [
            "upload",
            str(tmp_path / "src"),
            "s3://no-such-bucket-secret",
            "--endpoint-url",
            moto.endpoint_url,
            "--debug",
        ],
        [
            "upload",
            str(tmp_path / "src"),
            f"s3://{bucket}",
            "--endpoint-url",
            f"http://127.0.0.1:{free_port()}",
            "--debug",
            "--max-attempts",
            "1",
        ],
    ]
    for args in runs:
        result = subprocess.run(
            [sys.executable, "-m", "s3flood", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        assert "DEBUG" in result.stderr  # --debug really logged
        assert SECRET not in result.stdout
        assert SECRET not in result.stderr
    assert manifest.exists()
    assert SECRET not in manifest.read_text()


def test_tls_certificates_are_verified_by_default(tmp_path: Path, tls_moto: LocalS3) -> None:
    make_files(tmp_path, 2)
    with pytest.raises(s3flood.DestinationError, match="TLS verification failed") as info:
        asyncio.run(s3flood.upload_directory(tmp_path, "bucket", endpoint_url=tls_moto.endpoint_url))
    assert info.value.code == "TLSVerificationFailed"
