"""Logging for backbeat's processes: one JSON object per line in production (for log
shippers), readable lines elsewhere; secrets scrubbed from every record either way.

Tokens reach log lines by accident (an exception quoting a request, a URL with a code): the
redacting filter masks bearer tokens, Basic credentials and token-like query or JSON fields
before any handler formats the record.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from backbeat.config import Settings

READABLE = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_SECRETS = [
    re.compile(r"(?i)(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(
        r"(?i)((?:access_token|refresh_token|client_secret|code_verifier|api_key|password|code)"
        r"[\"']?\s*[=:]\s*[\"']?)[^\s&\"',;]{6,}"
    ),
]


def redact(text: str) -> str:
    text = _SECRETS[0].sub(lambda match: f"{match.group(1)} [redacted]", text)
    return _SECRETS[1].sub(lambda match: f"{match.group(1)}[redacted]", text)


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            # Formatted tracebacks quote exception messages: format now, scrubbed.
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def configure_logging(settings: Settings, level: int = logging.INFO) -> None:
    """Root handler for a process: JSON when `environment` is production, else readable."""
    handler = logging.StreamHandler()
    formatter: logging.Formatter
    if settings.environment == "production":
        formatter = JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger", "asctime": "time"},
        )
    else:
        formatter = logging.Formatter(READABLE)
    handler.setFormatter(formatter)
    handler.addFilter(RedactSecrets())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpcore"):  # one line per request is the access log's job
        logging.getLogger(noisy).setLevel(logging.WARNING)


def log_extra(**fields: Any) -> dict[str, Any]:
    """`log.info("…", extra=log_extra(job=…))`: fields that JSON logs carry as keys."""
    return fields
