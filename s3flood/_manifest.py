"""The manifest: one JSON line per file with its final outcome, written as outcomes arrive."""

from __future__ import annotations

import json
import os
from typing import IO, Literal

Outcome = Literal["uploaded", "skipped", "failed"]


class ManifestWriter:
    """Appends one JSON object per line. Buffered; ``close()`` flushes.

    Lines are written from the event loop: each is a few hundred bytes into a userspace
    buffer, far cheaper than a thread hop per line.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._file: IO[str] = open(path, "w", encoding="utf-8", buffering=1 << 16)  # noqa: SIM115

    def write(
        self,
        *,
        path: str,
        key: str,
        size: int,
        outcome: Outcome,
        attempts: int,
        error: str | None,
        reason: str | None = None,
    ) -> None:
        line = {
            "path": path,
            "key": key,
            "size": size,
            "outcome": outcome,
            "attempts": attempts,
            "error": error,
        }
        if reason is not None:
            line["reason"] = reason
        # ensure_ascii keeps names that are not valid UTF-8 (surrogate escapes) representable.
        self._file.write(json.dumps(line) + "\n")

    def close(self) -> None:
        self._file.close()
