"""Process logs: JSON lines in production, readable elsewhere, secrets never written."""

from __future__ import annotations

import json
import logging

import pytest

from backbeat.config import Settings
from backbeat.logs import configure_logging, redact


@pytest.fixture
def restore_root() -> object:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ("Authorization: Bearer BQDx8f7s9dk2j3k4l5", "BQDx8f7s9dk2j3k4l5"),
        ("POST /api/token refresh_token=AQCabcdef123456&grant_type=x", "AQCabcdef123456"),
        ('{"access_token": "tok_1234567890"}', "tok_1234567890"),
        ("GET /auth/callback?code=AQB123456789&state=s", "AQB123456789"),
        ("Basic YmFja2JlYXQ6c2VjcmV0", "YmFja2JlYXQ6c2VjcmV0"),
    ],
)
def test_secrets_are_redacted(text: str, hidden: str) -> None:
    cleaned = redact(text)
    assert hidden not in cleaned
    assert "[redacted]" in cleaned


def test_production_logs_are_json_lines_without_secrets(
    restore_root: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(Settings(environment="production", security={"token_keys": ["x"]}))
    logging.getLogger("backbeat.test").warning("stored %s", "access_token=secretvalue123")
    try:
        raise RuntimeError("refresh failed for Bearer abcdefghijklmnop")
    except RuntimeError:
        logging.getLogger("backbeat.test").exception("refresh")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert lines[0]["level"] == "WARNING"
    assert lines[0]["logger"] == "backbeat.test"
    assert lines[0]["message"] == "stored access_token=[redacted]"
    assert "abcdefghijklmnop" not in json.dumps(lines[1])
    assert "RuntimeError" in lines[1]["exc_info"]


def test_development_logs_are_readable(
    restore_root: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(Settings(environment="development"))
    logging.getLogger("backbeat.test").info("hello")
    assert capsys.readouterr().err.strip().endswith("INFO backbeat.test: hello")
