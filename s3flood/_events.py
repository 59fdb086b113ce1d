"""Progress events handed to ``on_progress``: one frozen object per thing that happened.

Every event carries the running totals, so a progress bar only has to draw the latest one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

EventKind = Literal["found", "bytes", "uploaded", "skipped", "failed", "retry", "walk_finished"]


@dataclass(frozen=True, slots=True)
class ProgressEvent:
    """What just happened (``kind``, ``path``, ``bytes``) and where the whole run stands.

    ``bytes`` is the change in ``bytes_done`` this event brings; it is negative when bytes
    already counted for a multipart file are taken back because the file is retried or failed.
    """

    kind: EventKind
    path: str
    bytes: int
    files_found: int
    files_done: int
    bytes_found: int
    bytes_done: int
    failed: int
    retries: int
    walk_finished: bool


ProgressCallback = Callable[[ProgressEvent], None]
