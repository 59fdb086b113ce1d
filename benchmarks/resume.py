"""First run against a re-run with --skip-unchanged, on the seed workload (50,000 x 12 B),
against SeaweedFS. The re-run lists the prefix and checks every file's content, sending nothing.

    python benchmarks/resume.py [--files 50000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from examples.generate import generate  # noqa: E402
from s3flood import localstore  # noqa: E402


def timed(args: list[str], env: dict[str, str]) -> tuple[float, float, dict[str, object]]:
    started = time.monotonic()
    child = subprocess.Popen(args, stdout=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.monotonic() - started
    assert child.stdout is not None
    report = json.loads(child.stdout.read())
    assert os.waitstatus_to_exitcode(status) == 0, report
    return elapsed, usage.ru_maxrss / 1024, report


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=50_000)
    args = parser.parse_args()
    env = dict(os.environ, **localstore.CREDENTIALS, AWS_DEFAULT_REGION="us-east-1")
    with tempfile.TemporaryDirectory() as scratch, localstore.running("seaweedfs") as store:
        src = generate(Path(scratch) / "src", args.files)
        store.create_bucket("resume")
        base = [
            sys.executable,
            "-m",
            "s3flood",
            "upload",
            str(src),
            "s3://resume/r",
            "--endpoint-url",
            store.endpoint_url,
            "--json",
        ]
        first, first_rss, report = timed(base, env)
        assert report["uploaded"] == args.files
        second, second_rss, again = timed([*base, "--skip-unchanged"], env)
        assert (again["uploaded"], again["skipped"]) == (0, args.files), again
    print(
        f"first run: {first:.1f}s ({args.files / first:,.0f} files/s, {first_rss:.0f} MB RSS); "
        f"re-run with --skip-unchanged: {second:.1f}s ({second_rss:.0f} MB RSS), "
        f"{first / second:.1f}x faster, 0 sent, {args.files:,} skipped"
    )


if __name__ == "__main__":
    main()
