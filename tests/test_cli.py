"""The s3flood command, run as a subprocess the way a user runs it."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from s3flood.localstore import LocalS3, free_port
from tests.conftest import all_keys, open_uploads, read_object
from tests.faultproxy import Fault, FaultProxy, Request

MiB = 1024 * 1024


def s3flood(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "s3flood", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def tree(root: Path, count: int = 5) -> Path:
    (root / "sub").mkdir(parents=True)
    for i in range(count):
        (root / ("sub" if i % 2 else ".") / f"f{i}.txt").write_text(f"file {i}")
    return root


def assert_one_clean_error_line(stderr: str, *needles: str) -> None:
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("s3flood: error: ")
    for needle in needles:
        assert needle in lines[0]


def test_upload_prints_a_summary_and_exits_0(tmp_path: Path, moto: LocalS3, bucket: str) -> None:
    src = tree(tmp_path / "src")
    result = s3flood("upload", str(src), f"s3://{bucket}/photos", "--endpoint-url", moto.endpoint_url)
    assert result.returncode == 0, result.stderr
    assert "Uploaded 5 files" in result.stdout
    assert "found 5" in result.stdout
    assert set(all_keys(moto, bucket)) == {
        "photos/f0.txt",
        "photos/sub/f1.txt",
        "photos/f2.txt",
        "photos/sub/f3.txt",
        "photos/f4.txt",
    }


@pytest.mark.parametrize("dest", ["s3://{b}/photos", "s3://{b}/photos/"])
def test_json_is_one_object_on_stdout_matching_what_landed(
    tmp_path: Path, moto: LocalS3, bucket: str, dest: str
) -> None:
    src = tree(tmp_path / "src")
    result = s3flood("upload", str(src), dest.format(b=bucket), "--endpoint-url", moto.endpoint_url, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)  # the whole of stdout is one JSON object
    assert report["found"] == report["uploaded"] == 5
    assert report["failed"] == []
    assert report["dry_run"] is False
    assert report["bytes_uploaded"] == sum(len(f"file {i}") for i in range(5))
    for name in ("skipped", "retries", "elapsed"):
        assert name in report
    assert len(all_keys(moto, bucket, "photos/")) == 5
    assert read_object(moto, bucket, "photos/sub/f1.txt") == b"file 1"


def test_some_failures_exit_1_and_are_listed(tmp_path: Path, moto: LocalS3, bucket: str) -> None:
    src = tree(tmp_path / "src")
    with open(os.path.join(os.fsencode(src), b"bad-\xff.txt"), "wb") as f:
        f.write(b"x")
    result = s3flood("upload", str(src), f"s3://{bucket}", "--endpoint-url", moto.endpoint_url, "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["uploaded"] == 5
    (failure,) = report["failed"]
    assert "UTF-8" in failure["error"]
    assert set(failure) >= {"path", "key", "error", "attempts"}


def test_user_errors_exit_2_with_one_clean_line(tmp_path: Path, moto: LocalS3, bucket: str) -> None:
    src = tree(tmp_path / "src")
    url = moto.endpoint_url
    missing = s3flood("upload", str(tmp_path / "nope"), f"s3://{bucket}", "--endpoint-url", url)
    assert missing.returncode == 2
    assert_one_clean_error_line(missing.stderr, "does not exist")

    no_bucket = s3flood("upload", str(src), "s3://no-such-bucket-x", "--endpoint-url", url)
    assert no_bucket.returncode == 2
    assert_one_clean_error_line(no_bucket.stderr, "NoSuchBucket")

    unreachable = s3flood(
        "upload",
        str(src),
        f"s3://{bucket}",
        "--endpoint-url",
        f"http://127.0.0.1:{free_port()}",
        "--max-attempts",
        "2",
    )
    assert unreachable.returncode == 2
    assert_one_clean_error_line(unreachable.stderr, "cannot reach")

    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    no_credentials = s3flood("upload", str(src), f"s3://{bucket}", "--endpoint-url", url, env=env)
    assert no_credentials.returncode == 2
    assert_one_clean_error_line(no_credentials.stderr, "no AWS credentials")

    bad_profile = s3flood("upload", str(src), f"s3://{bucket}", "--profile", "nobody-has-this", env=env)
    assert bad_profile.returncode == 2
    assert_one_clean_error_line(bad_profile.stderr, "nobody-has-this")


@pytest.mark.parametrize(
    "args",
    [
        ["--max-attempts", "0"],
        ["--concurrency", "0"],
        ["--concurrency", "many"],
        ["--part-size", "1MiB"],
        ["--part-size", "big"],
    ],
)
def test_bad_arguments_exit_2_without_a_traceback(tmp_path: Path, args: Sequence[str]) -> None:
    result = s3flood("upload", str(tmp_path), "s3://bucket", *args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "error" in result.stderr


def test_a_destination_that_is_not_an_s3_url_exits_2(tmp_path: Path) -> None:
    result = s3flood("upload", str(tmp_path), "bucket/prefix")
    assert result.returncode == 2
    assert "s3://BUCKET" in result.stderr


def test_debug_shows_the_traceback(tmp_path: Path, moto: LocalS3) -> None:
    src = tree(tmp_path / "src")
    result = s3flood(
        "upload", str(src), "s3://no-such-bucket-y", "--endpoint-url", moto.endpoint_url, "--debug"
    )
    assert result.returncode == 2
    assert "Traceback" in result.stderr


def test_version_and_help() -> None:
    version = s3flood("--version")
    assert version.returncode == 0
    assert version.stdout.startswith("s3flood ")
    helped = s3flood("upload", "--help")
    assert helped.returncode == 0
    for flag in (
        "--endpoint-url",
        "--concurrency",
        "--max-attempts",
        "--include",
        "--exclude",
        "--follow-symlinks",
        "--skip-unchanged",
        "--dry-run",
        "--manifest",
        "--json",
        "--no-progress",
        "--profile",
        "--region",
        "--debug",
    ):
        assert flag in helped.stdout


def test_the_console_script_is_the_same_program() -> None:
    script = Path(sys.executable).with_name("s3flood")
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=False)
    assert result.returncode == 0
    assert result.stdout == s3flood("--version").stdout


def run_on_a_terminal(args: Sequence[str]) -> tuple[int, str, str]:
    """Run with stderr on a pseudo-terminal, stdout on a pipe; returns (code, stdout, terminal)."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "s3flood", *args], stdout=subprocess.PIPE, stderr=terminal, text=True
    )
    os.close(terminal)
    seen = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    stdout, _ = process.communicate(timeout=120)
    os.close(controller)
    return process.returncode, stdout, seen.decode(errors="replace")


def test_the_progress_display_draws_on_a_terminal_and_never_into_a_pipe(
    tmp_path: Path, moto: LocalS3, bucket: str
) -> None:
    src = tree(tmp_path / "src", 300)
    args = ["upload", str(src), f"s3://{bucket}", "--endpoint-url", moto.endpoint_url]
    code, stdout, terminal = run_on_a_terminal(args)
    assert code == 0
    assert "uploading" in terminal
    assert "300/300 files" in terminal
    assert "Uploaded 300 files" in stdout

    code, stdout, terminal = run_on_a_terminal([*args, "--no-progress"])
    assert code == 0
    assert "uploading" not in terminal

    piped = s3flood(*args)
    assert piped.returncode == 0
    assert piped.stderr == ""


def test_ctrl_c_stops_promptly_aborts_multipart_uploads_and_reports(
    tmp_path: Path, moto: LocalS3, bucket: str
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for i in range(3):
        (src / f"big{i}.bin").write_bytes(os.urandom(12 * MiB))
    for i in range(50):
        (src / f"small{i}.txt").write_text("small")

    def stall_parts_and_puts(request: Request) -> Fault | None:
        if request.method == "PUT":
            return Fault("stall", seconds=60)
        return None

    with FaultProxy(moto.endpoint_url, stall_parts_and_puts) as proxy:
        manifest = tmp_path / "manifest.jsonl"
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "s3flood",
                "upload",
                str(src),
                f"s3://{bucket}",
                "--endpoint-url",
                proxy.url,
                "--multipart-threshold",
                "8MiB",
                "--part-size",
                "5MiB",
                "--manifest",
                str(manifest),
                "--json",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 30
        while proxy.stats.requests.total() < 20 or not open_uploads(moto, bucket):
            assert time.monotonic() < deadline, "the uploads never started"
            time.sleep(0.1)
        assert len(open_uploads(moto, bucket)) == 3
        interrupted_at = time.monotonic()
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=30)
        took = time.monotonic() - interrupted_at
    assert process.returncode == 130, stderr
    assert took < 10
    assert "Traceback" not in stderr
    assert open_uploads(moto, bucket) == []
    report = json.loads(stdout)
    assert report["interrupted"] is True
    assert report["found"] == report["uploaded"] + report["skipped"] + len(report["failed"])
    lines = manifest.read_text().splitlines()
    assert len(lines) == report["found"]
