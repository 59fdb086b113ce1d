"""First run against a re-run with --skip-unchanged, on the seed workload (50,000 x 12 B),
against SeaweedFS. The re-run lists the prefix and checks every file's content, sending nothing.

    python benchmarks/resume.py [--files 50000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._measure import run_upload  # noqa: E402
from examples.generate import generate  # noqa: E402
from s3flood import localstore  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=50_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch, localstore.running("seaweedfs") as store:
        src = generate(Path(scratch) / "src", args.files)
        store.create_bucket("resume")
        base = (str(src), "s3://resume/r", "--endpoint-url", store.endpoint_url)
        first, first_rss, report = run_upload(*base)
        assert report["uploaded"] == args.files
        second, second_rss, again = run_upload(*base, "--skip-unchanged")
        assert (again["uploaded"], again["skipped"]) == (0, args.files), again
    print(
        f"first run: {first:.1f}s ({args.files / first:,.0f} files/s, {first_rss:.0f} MB RSS); "
        f"re-run with --skip-unchanged: {second:.1f}s ({second_rss:.0f} MB RSS), "
        f"{first / second:.1f}x faster, 0 sent, {args.files:,} skipped"
    )


if __name__ == "__main__":
    main()
