"""Keep secrets out of logs: a filter that blanks every credential value it knows of."""

from __future__ import annotations

import logging
import os

_SECRET_VARIABLES = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")
REDACTED = "***"


class RedactSecrets(logging.Filter):
    """Replaces the values of the secret credential variables in every record's text.

    botocore does not log secret keys itself; this is the second lock on the door, for a
    message or exception that might quote one (with --debug everything is logged).
    """

    def __init__(self, secrets: list[str] | None = None) -> None:
        super().__init__()
        found = secrets if secrets is not None else [os.environ.get(v, "") for v in _SECRET_VARIABLES]
        self.secrets = [s for s in found if len(s) >= 8]

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        text = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        clean = self._scrub(text)
        if clean != text:
            record.msg, record.args = clean, None
        if record.exc_text:
            record.exc_text = self._scrub(record.exc_text)
        return True

    def _scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text
