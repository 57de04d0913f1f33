"""Settings, read once at an entry point (CLI, app factory) and passed down, never as globals.

Environment variables use the `BACKBEAT_` prefix and `__` between nested groups, e.g.
`BACKBEAT_SIMULATOR__LIMIT=20`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

RetryAfterMode = Literal["honest", "zero", "missing", "early"]
AppMode = Literal["development", "extended"]


class WindowLimit(BaseModel):
    """At most `count` requests in any rolling `window` seconds."""

    model_config = {"frozen": True}

    count: int = Field(gt=0)
    window: float = Field(gt=0)

    @classmethod
    def parse(cls, text: str) -> WindowLimit:
        """Read the command-line form `COUNT/SECONDS`, e.g. `10/30`."""
        count, sep, window = text.partition("/")
        if not sep:
            raise ValueError(f"expected COUNT/SECONDS, got {text!r}")
        return cls(count=int(count), window=float(window))


def _window_limit(value: object) -> object:
    return WindowLimit.parse(value) if isinstance(value, str) else value


ParsedWindowLimit = Annotated[WindowLimit, BeforeValidator(_window_limit)]


class SimulatorSettings(BaseModel):
    """The local Spotify + ReccoBeats: catalog size, enforcement and faults."""

    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=0, le=65535)
    seed: int = 42
    artists: int = Field(default=400, ge=1)
    users: int = Field(default=1000, ge=1)
    mode: AppMode = "extended"
    time_scale: float = Field(default=1.0, gt=0, description="every period is divided by this")

    limit: int = Field(default=100, gt=0, description="requests per rolling window, per app")
    window: float = Field(default=30.0, gt=0, description="seconds of the rolling window")
    endpoint_limits: dict[str, ParsedWindowLimit] = Field(default_factory=dict)
    daily_quota: int = Field(default=0, ge=0, description="requests per day per app; 0 = none")
    cooldown_growth: float = Field(default=1.5, ge=1.0)
    cooldown_max: float = Field(default=600.0, gt=0)
    retry_after_mode: RetryAfterMode = "honest"

    error_rate: float = Field(default=0.0, ge=0.0, le=1.0, description="share of injected 5xx")
    timeout_rate: float = Field(default=0.0, ge=0.0, le=1.0, description="share of hung requests")
    timeout_seconds: float = Field(default=30.0, gt=0)
    latency_ms: float = Field(default=0.0, ge=0.0, description="median latency")
    latency_sigma: float = Field(default=0.5, ge=0.0, description="log-normal spread")

    token_expiry: int = Field(default=3600, gt=0)
    development_users: int = Field(default=5, ge=1)
    apps: dict[str, str] = Field(default_factory=lambda: {"backbeat-dev": "backbeat-dev-secret"})
    auto_register: bool = True

    reccobeats_limit: int = Field(default=60, gt=0)
    reccobeats_window: float = Field(default=60.0, gt=0)

    def scaled(self, seconds: float) -> float:
        """A period of the simulated world in real seconds."""
        return seconds / self.time_scale


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="BACKBEAT_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    environment: Literal["development", "test", "production"] = "development"
    require_services: bool = False
    simulator: SimulatorSettings = Field(default_factory=SimulatorSettings)
