"""A small asyncio HTTP/1.1 proxy that sits in front of a real S3 server and misbehaves on
schedule: error answers, connection resets before or after the request reaches the server,
stalls, truncated answers, a flipped body byte. It counts requests per key and in flight.

It speaks just enough HTTP for S3 clients: keep-alive, ``Expect: 100-continue`` (answered
here, then the request goes upstream without it), Content-Length and chunked bodies.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit


@dataclass(frozen=True)
class Fault:
    """What to do to one request.

    kind: status | reset_before | reset_after | stall (before the server sees it) | late (the server
    has acted, its answer is held back) | truncate | flip.
    """

    kind: str
    status: int = 503
    code: str = "SlowDown"
    seconds: float = 0.0


SLOW_DOWN = Fault("status", 503, "SlowDown")
INTERNAL = Fault("status", 500, "InternalError")
RESET_BEFORE = Fault("reset_before")
RESET_AFTER = Fault("reset_after")
TRUNCATE = Fault("truncate")
FLIP = Fault("flip")


@dataclass
class Request:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes

    @property
    def key(self) -> str:
        """The object key (path after the bucket), URL-decoded; '' for bucket-level calls."""
        path = urlsplit(self.target).path
        parts = unquote(path).lstrip("/").split("/", 1)
        return parts[1] if len(parts) == 2 else ""

    @property
    def query(self) -> str:
        return urlsplit(self.target).query


Decide = Callable[[Request], Fault | None]


@dataclass
class Stats:
    requests: Counter[str] = field(default_factory=Counter)  # per key, every request that arrived
    faults: Counter[str] = field(default_factory=Counter)  # per fault kind
    in_flight: int = 0
    max_in_flight: int = 0
    total: int = 0


class FaultProxy:
    def __init__(self, upstream: str, decide: Decide | None = None) -> None:
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.decide: Decide = decide or (lambda request: None)
        self.stats = Stats()
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._ready = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # The proxy runs its own event loop on a thread, so a test's client loop and the
    # proxy never wait on each other.
    def start(self) -> FaultProxy:
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the proxy did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._server is not None:
            self._loop.call_soon_threadsafe(self._server.close)
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._server = loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            for task in asyncio.all_tasks(loop):
                task.cancel()
            with contextlib.suppress(Exception):
                loop.run_until_complete(asyncio.sleep(0))
            loop.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        try:
            while True:
                request = await _read_request(reader, writer)
                if request is None:
                    return
                self.stats.total += 1
                self.stats.requests[request.key] += 1
                self.stats.in_flight += 1
                self.stats.max_in_flight = max(self.stats.max_in_flight, self.stats.in_flight)
                try:
                    fault = self.decide(request)
                    if fault is not None:
                        self.stats.faults[fault.kind] += 1
                    if upstream is None:
                        upstream = await asyncio.open_connection(self.upstream_host, self.upstream_port)
                    keep = await self._exchange(request, fault, reader, writer, upstream)
                finally:
                    self.stats.in_flight -= 1
                if not keep:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()
            if upstream is not None:
                upstream[1].close()

    async def _exchange(
        self,
        request: Request,
        fault: Fault | None,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    ) -> bool:
        """Serve one request; False to drop the client connection."""
        kind = fault.kind if fault is not None else None
        if fault is not None and kind == "status":
            body = (
                f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{fault.code}</Code>'
                f"<Message>injected by the test proxy</Message></Error>"
            ).encode()
            writer.write(
                f"HTTP/1.1 {fault.status} Injected\r\nContent-Type: application/xml\r\n"
                f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            await writer.drain()
            return True
        if kind == "reset_before":
            _reset(writer)
            return False
        if fault is not None and kind == "stall":
            # A client never sends while its request is unanswered, so anything readable here is its
            # hang-up: the stall ends there, as a real server's would, and stops counting as in flight.
            try:
                hung_up = await asyncio.wait_for(reader.read(1), fault.seconds)
            except TimeoutError:
                pass
            else:
                if not hung_up:
                    return False
                raise ConnectionError("the client sent bytes before its answer")
        body = request.body
        if kind == "flip" and body:
            index = len(body) // 2
            body = body[:index] + bytes([body[index] ^ 0x01]) + body[index + 1 :]
        up_reader, up_writer = upstream
        up_writer.write(_head(request) + body)
        await up_writer.drain()
        head, response_body = await _read_response(up_reader, request.method)
        if fault is not None and kind == "late":
            await asyncio.sleep(fault.seconds)
        if kind == "reset_after":
            _reset(writer)
            return False
        if kind == "truncate":
            writer.write(head + response_body[: len(response_body) // 2])
            await writer.drain()
            _reset(writer)
            return False
        writer.write(head + response_body)
        await writer.drain()
        return True


def _reset(writer: asyncio.StreamWriter) -> None:
    transport = writer.transport
    sock = transport.get_extra_info("socket")
    if sock is not None:
        import socket  # noqa: PLC0415
        import struct  # noqa: PLC0415

        # SO_LINGER 0: close sends a TCP RST, a real "connection reset by peer".
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def _head(request: Request) -> bytes:
    lines = [f"{request.method} {request.target} HTTP/1.1"]
    lines += [
        f"{k}: {v}" for k, v in request.headers.items() if k.lower() not in {"expect", "transfer-encoding"}
    ]
    if "content-length" not in {k.lower() for k in request.headers}:
        lines.append(f"Content-Length: {len(request.body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _read_headers(reader: asyncio.StreamReader) -> tuple[str, dict[str, str]] | None:
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    text = raw.decode("latin-1").rstrip("\r\n")
    first, *rest = text.split("\r\n")
    headers: dict[str, str] = {}
    for line in rest:
        name, _, value = line.partition(":")
        headers[name.strip()] = value.strip()
    return first, headers


def _get(headers: dict[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    length = _get(headers, "content-length")
    if length is not None:
        return await reader.readexactly(int(length))
    if (_get(headers, "transfer-encoding") or "").lower() == "chunked":
        chunks = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            chunks.append(chunk[:-2])
        return b"".join(chunks)
    return b""


async def _read_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Request | None:
    parsed = await _read_headers(reader)
    if parsed is None:
        return None
    first, headers = parsed
    method, target, _ = first.split(" ", 2)
    if (_get(headers, "expect") or "").lower() == "100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        await writer.drain()
    body = await _read_body(reader, headers)
    if _get(headers, "content-length") is None and body:
        headers["Content-Length"] = str(len(body))
    return Request(method, target, headers, body)


async def _read_response(reader: asyncio.StreamReader, method: str) -> tuple[bytes, bytes]:
    parsed = await _read_headers(reader)
    if parsed is None:
        raise ConnectionError("upstream closed")
    first, headers = parsed
    status = int(first.split(" ", 2)[1])
    body = b"" if method == "HEAD" or status in (204, 304) else await _read_body(reader, headers)
    headers = {k: v for k, v in headers.items() if k.lower() != "transfer-encoding"}
    if method != "HEAD":
        headers = {k: v for k, v in headers.items() if k.lower() != "content-length"}
        headers["Content-Length"] = str(len(body))
    head = first + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    return head.encode("latin-1"), body


def random_faults(rate: float, seed: int, faults: list[Fault]) -> Decide:
    """A seeded schedule: each request meets a random fault with probability ``rate``."""
    rng = random.Random(seed)
    lock = threading.Lock()

    def decide(request: Request) -> Fault | None:
        with lock:
            return rng.choice(faults) if rng.random() < rate else None

    return decide
