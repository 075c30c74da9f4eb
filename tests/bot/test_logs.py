"""Secrets never reach the log: configured values and token-shaped strings are redacted."""

from __future__ import annotations

import logging

from bot.logs import RedactSecrets


def _record(message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("t", logging.INFO, __file__, 1, message, args, None)


class TestRedactSecrets:
    def test_configured_values_are_replaced(self) -> None:
        record = _record("calling with %s", "my-own-secret-value")
        RedactSecrets(["my-own-secret-value"]).filter(record)
        assert record.getMessage() == "calling with ***"

    def test_token_shapes_are_replaced_even_when_unknown(self) -> None:
        record = _record("bad token xoxb-1234567890-abcdefghij and sk-ant-api03-abcdefgh1234")
        RedactSecrets().filter(record)
        assert "xoxb" not in record.getMessage() and "sk-ant" not in record.getMessage()

    def test_tracebacks_are_redacted_too(self) -> None:
        try:
            raise ValueError("token xapp-1-A0B1C2D3E4-secret")
        except ValueError:
            record = logging.LogRecord(
                "t", logging.ERROR, __file__, 1, "failed", (), __import__("sys").exc_info()
            )
        RedactSecrets().filter(record)
        assert "xapp-" not in record.exc_text

    def test_short_values_are_not_treated_as_secrets(self) -> None:
        """A one-letter 'secret' would redact every occurrence of that letter."""
        record = _record("value x in text")
        RedactSecrets(["x"]).filter(record)
        assert record.getMessage() == "value x in text"
