"""The walk alone: a dry run over N files (default 1,000,000), its rate and peak RSS.

python benchmarks/walk.py [--files 1000000]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._measure import run_upload  # noqa: E402

DATA = ROOT / "bench-data"


def make_tree(path: Path, count: int) -> None:
    """``count`` empty files, 1,000 to a folder."""
    marker = DATA / f"walk-{count}.complete"
    if marker.exists():
        return
    for i in range(count):
        folder = path / f"d{i // 1000:04}"
        if i % 1000 == 0:
            folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{i}").touch()
    marker.write_text("")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=1_000_000)
    args = parser.parse_args()
    tree = DATA / f"walk-{args.files}"
    make_tree(tree, args.files)
    elapsed, rss, report = run_upload(
        str(tree), "s3://walk", "--dry-run", "--endpoint-url", "http://127.0.0.1:9"
    )
    assert report["found"] == args.files, report["found"]
    print(
        f"dry run over {args.files:,} files: {elapsed:.1f}s, {args.files / elapsed:,.0f} files/s, "
        f"peak RSS {rss:.0f} MB"
    )


if __name__ == "__main__":
    main()
