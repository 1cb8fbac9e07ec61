"""Logging set-up for `mamori serve`: plain text, or one JSON object per line.

`MAMORI_LOG_FORMAT=json` gives lines like::

    {"time": "2026-01-01T00:00:00.123Z", "level": "WARNING", "logger": "mamori.web",
     "message": "detector tick failed", "exc": "Traceback ..."}

with any `extra={...}` fields of the call added as keys (values that are not JSON become
strings). uvicorn's own loggers go through the same handler.

What is logged is the callers' business, and they keep to one rule: never a password, a code, a
token, or a message body (see notify/ and flows/services.Background); phone numbers are masked.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# LogRecord's own attributes: everything else on a record came from `extra=`
_STANDARD = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "taskName", "color_message"}  # uvicorn's ANSI-coloured copy
)


class JSONFormatter(logging.Formatter):
    """One JSON object per record, on one line (newlines inside values are escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in entry and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class _MamoriHandler(logging.StreamHandler[TextIO]):
    """Marks the handler this module installed, so configuring again replaces it."""


def uvicorn_log_config(log_format: str) -> dict[str, Any] | None:
    """uvicorn's `log_config`: None for JSON (its loggers then propagate to ours), else its
    default (uvicorn's own text format)."""
    if log_format == "json":
        return None
    from uvicorn.config import LOGGING_CONFIG

    return LOGGING_CONFIG


def configure_logging(
    log_format: str = "text", *, level: int = logging.INFO, stream: TextIO | None = None
) -> logging.Handler:
    """Install one handler on the root logger (replacing one installed earlier by this
    function) writing `log_format` ("text" or "json") to `stream` (stderr by default)."""
    if log_format not in FORMATS:
        raise ValueError(f"log format must be one of {FORMATS}")
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _MamoriHandler)]:
        root.removeHandler(old)
    handler = _MamoriHandler(stream or sys.stderr)
    json_lines = log_format == "json"
    handler.setFormatter(JSONFormatter() if json_lines else logging.Formatter(TEXT_FORMAT))
    root.addHandler(handler)
    root.setLevel(level)
    if json_lines:
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
            logger = logging.getLogger(name)
            logger.handlers.clear()
            logger.propagate = True
    return handler
