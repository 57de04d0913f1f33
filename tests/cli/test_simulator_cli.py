"""`backbeat simulator serve`, run as a user runs it."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from typer.testing import CliRunner

from backbeat.cli.main import app
from backbeat.simulator.server import free_port
from tests.simulator.sim_client import basic


@pytest.fixture
def served() -> Iterator[str]:
    """The simulator as a separate process. The window is long so that a slow machine still
    sends its 25 requests inside one window; nothing here waits for a window to pass."""
    port = free_port()
    command = [sys.executable, "-m", "backbeat.cli.main", "simulator", "serve", "--port",
               str(port), "--limit", "20", "--window", "60", "--artists", "50"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/_sim/health", timeout=1).raise_for_status()
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    output = process.stdout.read().decode() if process.stdout else ""
                    pytest.fail(f"simulator did not start: {output}")
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout:
            process.stdout.close()


def test_serve_enforces_the_window_given_on_the_command_line(served: str) -> None:
    with httpx.Client(base_url=served) as http:
        token = http.post(
            "/api/token", data={"grant_type": "client_credentials"}, headers=basic()
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        responses = [
            http.get("/v1/search", params={"q": "a", "type": "track"}, headers=headers)
            for _ in range(25)
        ]
        assert [r.status_code for r in responses].count(200) == 20
        rejected = [r for r in responses if r.status_code == 429]
        assert len(rejected) == 5
        assert all(int(r.headers["Retry-After"]) >= 1 for r in rejected)
        stats = http.get("/_sim/stats").json()["apps"]["backbeat-dev"]
        assert (stats["max_in_window"], stats["http_429"]) == (20, 5)


def test_serve_rejects_a_bad_option() -> None:
    result = CliRunner().invoke(app, ["simulator", "serve", "--endpoint-limit", "search"])
    assert result.exit_code != 0
    assert "NAME=COUNT/SECONDS" in result.output
