"""Settings of a backbeat that talks to the local simulator: what the demo and the benchmarks
share. Embedded defaults (SQLite in a scratch folder, file-backed queues, the in-memory limiter)
with fresh secrets each run; each caller states only what it measures differently."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from backbeat.config import (
    AuthSettings,
    DatabaseSettings,
    JobsSettings,
    ReccoBeatsSettings,
    SecuritySettings,
    Settings,
    SpotifySettings,
)


def simulated_settings(
    var: Path,
    sim_url: str,
    client: tuple[str, str],
    *,
    api_port: int | None = None,
    auth: dict[str, Any] | None = None,
    jobs: dict[str, Any] | None = None,
    **sections: Any,
) -> Settings:
    """`auth` and `jobs` add to the sections built here; other `sections` (ratelimit, cache,
    api, environment, ...) are passed to `Settings` as they are."""
    redirect = (
        {} if api_port is None else {"redirect_uri": f"http://127.0.0.1:{api_port}/auth/callback"}
    )
    return Settings(
        **{
            "environment": "development",
            "redis_url": None,
            "spotify": SpotifySettings(
                client_id=client[0],
                client_secret=client[1],
                api_url=f"{sim_url}/v1",
                accounts_url=sim_url,
            ),
            "reccobeats": ReccoBeatsSettings(url=f"{sim_url}/reccobeats"),
            "database": DatabaseSettings(url=f"sqlite:///{var / 'backbeat.db'}"),
            "security": SecuritySettings(token_keys=[Fernet.generate_key().decode()]),
            "auth": AuthSettings(
                session_secret=secrets.token_urlsafe(32),
                admin_token=secrets.token_urlsafe(16),
                cookie_secure=False,
                **redirect,
                **(auth or {}),
            ),
            "jobs": JobsSettings(var_dir=str(var / "queues"), **(jobs or {})),
            **sections,
        }
    )
