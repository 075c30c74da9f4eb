"""Logging for the bot process: one readable line per event, secrets never written."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable

# Token shapes of the services we talk to, redacted even when not configured as secrets
# (a token pasted into a question or returned in an error body must not reach the log).
_TOKEN = re.compile(
    r"\b(?:xox[abpr]-[\w-]{8,}|xapp-[\w-]{8,}|sk-ant-[\w-]{8,}|"
    r"[MN][A-Za-z\d]{23,28}\.[\w-]{6}\.[\w-]{27,})"
)


_HANDLER_NAME = "digestbot"


class RedactSecrets(logging.Filter):
    """Replaces secret values and anything shaped like a token with '***' in every record."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return _TOKEN.sub("***", text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self.redact(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def setup_logging(level: int, secrets: Iterable[str] = ()) -> RedactSecrets:
    """Log to stderr at `level`, with secrets redacted from every handler's output."""
    redactor = RedactSecrets(secrets)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(redactor)
    handler.set_name(_HANDLER_NAME)
    root = logging.getLogger()
    # Replace only our own handler (a second call adds the secrets once the config is read);
    # handlers others installed (pytest's, an embedding application's) stay.
    for existing in list(root.handlers):
        if existing.get_name() == _HANDLER_NAME:
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    # Third-party loggers chatty at INFO: keep their warnings, drop their noise.
    for noisy in ("apscheduler.scheduler", "apscheduler.executors", "urllib3", "discord.http"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    return redactor
