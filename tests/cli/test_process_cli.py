"""`backbeat worker`, `scheduler` and `serve` refuse what they cannot run, with a message."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from backbeat.cli.main import app


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["worker", "--queues", "spotify,nope"], "unknown queues nope"),
        (["worker", "--queues", " , "], "unknown queues (none)"),
        (["worker", "--queues", "default", "--workers", "0"], "greater than or equal to 1"),
        (["serve", "--consumers", "sometimes"], "--consumers must be auto, on or off"),
    ],
)
def test_bad_options_are_refused_before_anything_starts(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})  # one line per message
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


def test_a_plugin_that_cannot_load_stops_the_worker_with_its_reason(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object, token_key: str
) -> None:
    monkeypatch.setenv("BACKBEAT_DATABASE__URL", f"sqlite:///{tmp_path}/cli.db")
    monkeypatch.setenv("BACKBEAT_JOBS__VAR_DIR", f"{tmp_path}/var")
    monkeypatch.setenv("BACKBEAT_SECURITY__TOKEN_KEYS", token_key)
    monkeypatch.setenv("BACKBEAT_JOBS__PLUGINS", '["backbeat.nowhere:kinds"]')
    monkeypatch.delenv("BACKBEAT_REDIS_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    result = CliRunner().invoke(app, ["worker", "--queues", "default"])
    assert result.exit_code == 2
    assert "jobs.plugins: 'backbeat.nowhere:kinds' cannot be loaded" in result.output
