"""A destination that cannot be written at all: DestinationError, promptly, with the S3 code.

SeaweedFS with authentication on (moto accepts any key)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import s3flood
from s3flood import localstore
from s3flood.localstore import LocalS3

WRITER = {"accessKey": "writer-key", "secretKey": "writer-secret-0123456789"}
READER = {"accessKey": "reader-key", "secretKey": "reader-secret-0123456789"}


@pytest.fixture(scope="module")
def secured() -> Iterator[LocalS3]:
    identities = {
        "identities": [
            {"name": "writer", "credentials": [WRITER], "actions": ["Admin", "Read", "Write", "List"]},
            {"name": "reader", "credentials": [READER], "actions": ["Read", "List"]},
        ]
    }
    store = localstore.start_seaweedfs(identities=identities, auto_create_bucket=False)
    client = store.client(aws_access_key_id=WRITER["accessKey"], aws_secret_access_key=WRITER["secretKey"])
    deadline = time.monotonic() + 30
    while True:
        try:
            client.create_bucket(Bucket="secured")
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    yield store
    store.stop()


def files(root: Path, count: int = 200) -> Path:
    for i in range(count):
        (root / f"f{i}").write_text("x")
    return root


def use(monkeypatch: pytest.MonkeyPatch, identity: dict[str, str]) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", identity["accessKey"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", identity["secretKey"])


@pytest.mark.parametrize(
    ("access_key", "secret_key", "codes"),
    [
        (WRITER["accessKey"], "not-the-secret-0123456789", {"SignatureDoesNotMatch"}),
        ("nobody-has-this-key", "whatever-secret-0123456789", {"InvalidAccessKeyId", "AccessDenied"}),
    ],
)
async def test_bad_credentials_raise_destination_error_promptly(
    tmp_path: Path,
    secured: LocalS3,
    monkeypatch: pytest.MonkeyPatch,
    access_key: str,
    secret_key: str,
    codes: set[str],
) -> None:
    use(monkeypatch, {"accessKey": access_key, "secretKey": secret_key})
    started = time.monotonic()
    with pytest.raises(s3flood.DestinationError) as info:
        await s3flood.upload_directory(files(tmp_path), "secured", endpoint_url=secured.endpoint_url)
    assert time.monotonic() - started < 10
    assert info.value.code in codes
    assert info.value.code in str(info.value)
    assert secret_key not in str(info.value)


async def test_access_denied_before_anything_is_written_is_fatal(
    tmp_path: Path, secured: LocalS3, monkeypatch: pytest.MonkeyPatch
) -> None:
    use(monkeypatch, READER)
    with pytest.raises(s3flood.DestinationError, match="AccessDenied"):
        await s3flood.upload_directory(files(tmp_path), "secured", endpoint_url=secured.endpoint_url)


async def test_a_missing_bucket_on_a_real_store_is_fatal(
    tmp_path: Path, secured: LocalS3, monkeypatch: pytest.MonkeyPatch
) -> None:
    use(monkeypatch, WRITER)
    with pytest.raises(s3flood.DestinationError, match="NoSuchBucket"):
        await s3flood.upload_directory(files(tmp_path), "not-there", endpoint_url=secured.endpoint_url)


async def test_the_right_credentials_work(
    tmp_path: Path, secured: LocalS3, monkeypatch: pytest.MonkeyPatch
) -> None:
    use(monkeypatch, WRITER)
    report = await s3flood.upload_directory(files(tmp_path, 20), "secured", endpoint_url=secured.endpoint_url)
    assert report.uploaded == 20
