"""Opening the aioboto3 S3 client s3flood sends with, configured once for bulk uploads."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aioboto3
from botocore.config import Config


@dataclass(frozen=True, slots=True)
class ClientSettings:
    concurrency: int
    endpoint_url: str | None = None
    region: str | None = None
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    verify_tls: bool = True


def client_config(settings: ClientSettings) -> Config:
    return Config(
        # botocore's pool defaults to 10: 100 workers would quietly share 10 sockets.
        max_pool_connections=max(settings.concurrency, 10),
        # One request per call: s3flood's own retry lane owns every retry, so that
        # max_attempts counts requests exactly and backoff is one policy, not two stacked.
        retries={"total_max_attempts": 1, "mode": "standard"},
        # s3flood builds every parameter itself; validating them again costs ~5% CPU per PUT.
        parameter_validation=False,
        # s3flood computes and sends its own checksum (see _body); botocore's default would
        # add a second one, and some S3-compatible stores reject its trailer form.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        tcp_keepalive=True,
        user_agent_extra="s3flood",
    )


@contextlib.asynccontextmanager
async def open_client(
    settings: ClientSettings, session: aioboto3.Session | None = None
) -> AsyncIterator[Any]:
    session = session or aioboto3.Session()
    kwargs: dict[str, Any] = {"config": client_config(settings), "verify": settings.verify_tls}
    if settings.endpoint_url is not None:
        kwargs["endpoint_url"] = settings.endpoint_url
    if settings.region is not None:
        kwargs["region_name"] = settings.region
    async with session.client("s3", **kwargs) as client:
        yield client


async def has_credentials(session: aioboto3.Session | None) -> bool:
    session = session or aioboto3.Session()
    return await session.get_credentials() is not None
