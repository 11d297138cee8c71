"""Keep client bytes out of gunicorn's error log."""

from __future__ import annotations

import logging
import re


def redact_client_bytes(record: logging.LogRecord) -> bool:
    """Filter for gunicorn's error log: it quotes malformed request lines and headers (which may hold a
    token, e.g. a colon-less ``Authorization`` line) and logs request URIs with their query strings."""
    message = record.getMessage()
    if message.startswith("Invalid request from"):
        record.msg, record.args = re.sub(r"'.*", "'...' (redacted)", message, count=1, flags=re.S), ()
    elif message.startswith("Error handling request"):
        record.msg, record.args = message.split("?", 1)[0], ()
    return True
