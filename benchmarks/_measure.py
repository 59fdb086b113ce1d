"""Running one measured child process: wall time, peak RSS (wait4, children included), its JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

from s3flood import localstore


def run_measured(args: list[str], env: dict[str, str]) -> tuple[float, float, Any]:
    """(seconds, peak RSS in MB, the JSON it printed); raises if it failed."""
    started = time.monotonic()
    child = subprocess.Popen(args, stdout=subprocess.PIPE, env=env)
    assert child.stdout is not None
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{args[:4]} exited with {os.waitstatus_to_exitcode(status)}")
    return elapsed, usage.ru_maxrss / 1024, json.loads(output)


def run_upload(*cli_args: str) -> tuple[float, float, Any]:
    """`s3flood upload ... --json` as a measured child, with the local stores' test credentials."""
    env = dict(os.environ, **localstore.CREDENTIALS, AWS_DEFAULT_REGION="us-east-1")
    return run_measured([sys.executable, "-m", "s3flood", "upload", *cli_args, "--json"], env)
