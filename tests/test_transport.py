"""The lean HTTP/1.1 exchange for bodies (s3flood._transport): parsing, keep-alive, fallbacks,
TLS, and that owned clients send PutObject and UploadPart through it."""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from s3flood import _client
from s3flood._client import ClientSettings, open_client
from s3flood._transport import LeanTransport, _parse
from s3flood.localstore import LocalS3
from tests.conftest import make_run, read_object


def test_parse_waits_for_the_whole_answer_then_reports_what_it_used() -> None:
    answer = b'HTTP/1.1 200 OK\r\nETag: "x"\r\nContent-Length: 5\r\n\r\nhello'
    assert _parse(bytearray(answer[:-1])) is None
    assert _parse(bytearray(answer + b"HTTP/1.1")) == (
        200,
        {"etag": '"x"', "content-length": "5"},
        b"hello",
        len(answer),
    )


def test_parse_skips_interim_answers_and_reads_chunked_bodies() -> None:
    answer = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 503 Slow Down\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\n<Erro\r\n3;ext=1\r\nr/>\r\n0\r\n\r\n"
    )
    assert _parse(bytearray(answer[:-2])) is None
    status, headers, body, used = _parse(bytearray(answer)) or (0, {}, b"", 0)
    assert (status, body, used) == (503, b"<Error/>", len(answer))
    assert headers["transfer-encoding"] == "chunked"


def test_parse_rejects_what_is_not_http() -> None:
    with pytest.raises(ValueError, match="not HTTP"):
        _parse(bytearray(b"SSH-2.0-OpenSSH\r\n\r\n"))


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def serve(handler: Handler) -> AsyncIterator[int]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1]


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    return head, await reader.readexactly(length)


def request(port: int, body: bytes) -> Any:
    return SimpleNamespace(
        method="PUT", url=f"http://127.0.0.1:{port}/b/k", headers={"X-Test": "1"}, body=body
    )


async def test_a_connection_the_server_closed_after_answering_is_not_reused() -> None:
    connections = 0

    async def answer_once_then_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        head, _ = await read_request(reader)
        assert head.startswith(b"PUT /b/k HTTP/1.1\r\nHost: 127.0.0.1:")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    async for port in serve(answer_once_then_close):
        transport = LeanTransport(connect_timeout=2, read_timeout=2, ssl_context=None)
        for _ in range(3):
            response = await transport.send(request(port, b"abc"))
            assert response is not None
            assert response.status_code == 200
            await asyncio.sleep(0.05)  # the server's close arrives
        await transport.close()
    assert connections == 3


async def test_keep_alive_reuses_one_connection_and_bodies_arrive_whole() -> None:
    connections = 0
    received: list[bytes] = []

    async def keep_alive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        while not reader.at_eof():
            try:
                _, body = await read_request(reader)
            except asyncio.IncompleteReadError:
                return
            received.append(body)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()

    bodies = [b"", b"x", bytes(range(256)) * 40_000]  # the last is ~10 MiB: written in slices
    async for port in serve(keep_alive):
        transport = LeanTransport(connect_timeout=2, read_timeout=5, ssl_context=None)
        for body in bodies:
            response = await transport.send(request(port, body))
            assert response is not None
            assert response.status_code == 200
        await transport.close()
    assert received == bodies
    assert connections == 1


async def test_an_answer_before_the_whole_body_is_taken_ends_the_exchange_at_once() -> None:
    async def refuse_early(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        xml = b"<Error><Code>EntityTooLarge</Code></Error>"
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: %d\r\n\r\n%s" % (len(xml), xml))
        await writer.drain()
        await asyncio.sleep(10)  # and never reads the body

    async for port in serve(refuse_early):
        transport = LeanTransport(connect_timeout=2, read_timeout=3, ssl_context=None)
        started = time.monotonic()
        response = await transport.send(request(port, b"x" * 50_000_000))
        assert response is not None
        assert response.status_code == 400
        assert time.monotonic() - started < 2  # not the read timeout
        await transport.close()


async def test_a_server_that_never_answers_is_cut_off_by_the_read_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(10)

    async for port in serve(silent):
        transport = LeanTransport(connect_timeout=2, read_timeout=0.3, ssl_context=None)
        started = time.monotonic()
        with pytest.raises(ReadTimeoutError):
            await transport.send(request(port, b"x" * 50_000_000))  # also stalls while writing
        assert time.monotonic() - started < 3
        await transport.close()


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> collections.Counter[str]:
    """Requests the lean exchange sent ("lean") or left to aiohttp ("declined")."""
    counts: collections.Counter[str] = collections.Counter()
    original = LeanTransport.send

    async def spy(self: LeanTransport, request: Any, **kwargs: Any) -> Any:
        response = await original(self, request, **kwargs)
        counts["lean" if response is not None else "declined"] += 1
        return response

    monkeypatch.setattr(LeanTransport, "send", spy)
    return counts


async def test_owned_clients_send_bodies_through_the_lean_exchange(
    tmp_path: Path, sent: collections.Counter[str], seaweedfs: LocalS3, weed_bucket: str
) -> None:
    (tmp_path / "small.txt").write_bytes(b"hello")
    large = bytes(range(256)) * (24 * 1024 * 4 + 7)  # 24 MiB + 1,792 B: 4 parts of 6 MiB and a tail
    (tmp_path / "large.bin").write_bytes(large)
    run = make_run(
        tmp_path,
        weed_bucket,
        endpoint_url=seaweedfs.endpoint_url,
        multipart_threshold=6 * 2**20,
        part_size=6 * 2**20,
    )
    report = await run.execute()
    assert report.uploaded == 2
    assert not report.failed
    assert sent == {"lean": 1 + 5}
    assert read_object(seaweedfs, weed_bucket, "large.bin") == large
    assert read_object(seaweedfs, weed_bucket, "small.txt") == b"hello"


def test_a_proxy_in_the_environment_leaves_bodies_to_aiohttp(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = ClientSettings(concurrency=4, endpoint_url="http://127.0.0.1:9")
    assert _client._lean_transport(settings, None) is not None
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    assert _client._lean_transport(settings, None) is None


async def test_errors_in_chunked_answers_reach_botocore_as_client_errors() -> None:
    async def slow_down(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        xml = b"<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>"
        writer.write(
            b"HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nTransfer-Encoding: chunked\r\n\r\n"
            + f"{len(xml):x}\r\n".encode()
            + xml
            + b"\r\n0\r\n\r\n"
        )
        await writer.drain()

    async for port in serve(slow_down):
        settings = ClientSettings(concurrency=2, endpoint_url=f"http://127.0.0.1:{port}", read_timeout=5)
        async with open_client(settings) as client:
            with pytest.raises(ClientError) as info:
                await client.put_object(Bucket="b", Key="k", Body=b"x")
    assert info.value.response["Error"]["Code"] == "SlowDown"


async def test_the_lean_exchange_speaks_tls(tls_moto: LocalS3, sent: collections.Counter[str]) -> None:
    """Over https against moto's self-signed certificate, with verification off (the trusted
    case is the same code with a CA bundle; that an untrusted certificate is refused is
    test_faults' test_tls_certificates_are_verified_by_default)."""
    settings = ClientSettings(concurrency=2, endpoint_url=tls_moto.endpoint_url, verify_tls=False)
    body = bytes(range(256)) * 12_000  # ~3 MiB
    async with open_client(settings) as client:
        await client.create_bucket(Bucket="tls")
        await client.put_object(Bucket="tls", Key="k", Body=body)
        answer = await client.get_object(Bucket="tls", Key="k")
        assert await answer["Body"].read() == body
    assert sent == {"lean": 1}
