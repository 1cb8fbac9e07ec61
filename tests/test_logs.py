"""Structured logs: MAMORI_LOG_FORMAT=json writes one parseable JSON object per line."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import datetime

import pytest

from mamori.logs import configure_logging, uvicorn_log_config
from mamori.web.server import _uvicorn_options


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    uv = {
        n: (list(logging.getLogger(n).handlers), logging.getLogger(n).propagate)
        for n in ("uvicorn", "uvicorn.error", "uvicorn.access")
    }
    yield
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    for name, (handlers, propagate) in uv.items():
        logging.getLogger(name).handlers[:] = handlers
        logging.getLogger(name).propagate = propagate


@pytest.mark.usefixtures("restore_logging")
def test_json_lines_parse() -> None:
    out = io.StringIO()
    configure_logging("json", stream=out)
    log = logging.getLogger("mamori.test")
    log.info("login from %s", "a browser", extra={"event_type": "login_success", "n": 3})
    log.warning("multi\nline 日本語")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed")
    log.info("odd extra", extra={"when": datetime(2026, 1, 1)})
    logging.getLogger("uvicorn.error").info(
        "Started server process", extra={"color_message": "\x1b[36mStarted\x1b[0m"}
    )
    logging.getLogger("mamori.test").debug("not at INFO")

    lines = out.getvalue().splitlines()
    assert len(lines) == 5
    entries = [json.loads(line) for line in lines]
    first = entries[0]
    assert first["level"] == "INFO" and first["logger"] == "mamori.test"
    assert first["message"] == "login from a browser"
    assert first["event_type"] == "login_success" and first["n"] == 3
    assert first["time"].endswith("Z")
    datetime.fromisoformat(first["time"].replace("Z", "+00:00"))
    assert entries[1]["message"] == "multi\nline 日本語" and entries[1]["level"] == "WARNING"
    assert entries[2]["message"] == "failed" and "ValueError: boom" in entries[2]["exc"]
    assert entries[3]["when"] == "2026-01-01 00:00:00"
    assert entries[4]["logger"] == "uvicorn.error" and "color_message" not in entries[4]
    for e in entries:  # no LogRecord internals
        assert not {"args", "msg", "levelno", "pathname", "exc_info"} & e.keys()


@pytest.mark.usefixtures("restore_logging")
def test_text_format_and_reconfiguring_replaces_the_handler() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging("json", stream=first)
    configure_logging("text", stream=second)
    logging.getLogger("mamori.test").info("hello")
    assert first.getvalue() == ""
    assert " INFO mamori.test: hello" in second.getvalue()
    with pytest.raises(ValueError, match="log format"):
        configure_logging("xml")


def test_uvicorn_logs_through_ours_in_json_mode() -> None:
    assert uvicorn_log_config("json") is None
    assert _uvicorn_options(dev=False, log_format="json")["log_config"] is None
    text = _uvicorn_options(dev=False)["log_config"]
    assert isinstance(text, dict) and "formatters" in text
