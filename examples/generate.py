"""Write N small files containing ``Hello World!`` into a folder (the seed's generator).

python examples/generate.py DIR [--count 50000]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

CONTENT = b"Hello World!"


def generate(directory: str | os.PathLike[str], count: int = 50_000) -> Path:
    """Create ``directory`` (if needed) and write ``file{i}.txt`` for i in range(count)."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        # The seed deferred every Close to the end of main and leaked 50,000 descriptors.
        with open(folder / f"file{i}.txt", "wb") as f:
            f.write(CONTENT)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("directory")
    parser.add_argument("--count", type=int, default=50_000)
    args = parser.parse_args()
    generate(args.directory, args.count)
    print(f"wrote {args.count} files to {args.directory}")


if __name__ == "__main__":
    main()
