"""The deployment files stay true to the code: `.env.example` lists every setting, and every
command the compose file and the Procfile run is one the CLI accepts."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from backbeat.cli.config import env_example
from backbeat.cli.main import app
from tests.conftest import REQUIRE_SERVICES

ROOT = Path(__file__).resolve().parents[2]


def test_env_example_is_what_backbeat_config_env_prints(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REDIS_URL", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    assert (ROOT / ".env.example").read_text() == env_example(), (
        "regenerate: backbeat config env > .env.example"
    )


def commands() -> list[list[str]]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    found = [
        service["command"]
        for service in compose["services"].values()
        if service.get("command", [""])[0] == "backbeat"
    ]
    for line in (ROOT / "Procfile").read_text().splitlines():
        _, _, command = line.partition(": ")
        found.append(shlex.split(command.replace("${PORT:-8000}", "8000")))
    return found


def test_the_compose_file_runs_every_role_on_shared_postgres_and_redis() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "api", "scheduler"} <= set(services)
    queues = {
        queue
        for command in commands()
        if command[1] == "worker"
        for queue in command[command.index("--queues") + 1].split(",")
    }
    assert queues == {"spotify", "default", "leaderboard", "insights"}
    base = compose["x-backbeat"]["environment"]
    assert base["REDIS_URL"].startswith("redis://")
    assert base["DATABASE_URL"].startswith("postgresql://")


@pytest.mark.parametrize("command", commands(), ids=lambda command: " ".join(command[1:3]))
def test_every_command_is_one_the_cli_accepts(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command[1:], "--help"])
    assert result.exit_code == 0, result.output


def compose_command() -> list[str] | None:
    """`docker compose` (v2) where the plugin is installed, else `docker-compose` (v1)."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return ["docker", "compose"]
    return ["docker-compose"] if shutil.which("docker-compose") else None


def test_docker_compose_accepts_the_file_and_demands_the_secrets(tmp_path: Path) -> None:
    command = compose_command()
    if command is None:
        message = "no docker compose client on this machine"
        if REQUIRE_SERVICES:
            pytest.fail(message)
        pytest.skip(message)
    secrets = {
        "BACKBEAT_AUTH__SESSION_SECRET": "s",
        "BACKBEAT_SECURITY__TOKEN_KEYS": "k",
        "BACKBEAT_SPOTIFY__CLIENT_ID": "c",
        "BACKBEAT_SPOTIFY__CLIENT_SECRET": "x",
    }
    compose = [*command, "--project-directory", str(ROOT), "-f", str(ROOT / "docker-compose.yml")]
    ok = subprocess.run([*compose, "config", "-q"], env=os.environ | secrets, capture_output=True,
                        text=True, check=False, cwd=tmp_path)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    bare = {k: v for k, v in os.environ.items() if k not in secrets}
    missing = subprocess.run([*compose, "config", "-q"], env=bare, capture_output=True,
                             text=True, check=False, cwd=tmp_path)  # fmt: skip
    assert missing.returncode != 0
    assert "set it in .env" in missing.stderr
