"""Entry point of a worker process (``python -m s3flood._worker FD``); see _processes."""

from __future__ import annotations

import asyncio
import signal
import sys
from multiprocessing.connection import Connection

from s3flood._run import serve_parent


def main() -> None:
    # Ctrl-C reaches the whole process group; the parent decides, and stops us with SIGTERM.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    asyncio.run(serve_parent(Connection(int(sys.argv[1]))))


if __name__ == "__main__":
    main()
