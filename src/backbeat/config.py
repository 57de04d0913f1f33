"""Settings, read once at an entry point (CLI, app factory) and passed down, never as globals.

Environment variables use the `BACKBEAT_` prefix and `__` between nested groups, e.g.
`BACKBEAT_SIMULATOR__LIMIT=20`.
"""

from __future__ import annotations

import json
import os
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, SecretStr
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from backbeat.ratelimit import Policy, Rate

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
    taste_zipf: float | None = Field(
        default=None,
        gt=0,
        description="users pick favourite artists with Zipf weights 1/rank^s (rank by "
        "popularity within their languages) instead of popularity weights: a heavier overlap "
        "between users, as on a real shared catalog",
    )
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


def _rate(text: str) -> str:
    Rate.parse(text)  # refuse a malformed rate when settings load, not at the first call
    return text


RateText = Annotated[str, AfterValidator(_rate)]

# Seed 004's ReccoBeats figures: per-tool windows, minimum intervals, 5 in flight.
_RECCOBEATS_ENDPOINTS = {
    "track_recommendation": ["60/60", "1/1.2"],
    "track": ["60/60", "1/1.2"],
    "track_audio_features": ["60/60", "1/1.2"],
    "artist_search": ["60/60", "1/1.2"],
    "artist_track": ["45/60", "1/1.5"],
}


class RateLimitSettings(BaseModel):
    """The global limiter: where its state lives and each upstream app's budget."""

    url: str = Field(default="memory://", description="memory:// or redis://host:port/db")
    spotify_read: RateText = "80/30"
    spotify_write: RateText = "30/30"
    spotify_batch: RateText = "20/30"
    spotify_shared: RateText | None = Field(
        default=None,
        description="one window over every call of the app, whatever its class: Spotify limits "
        "the whole app, so set it when the class windows add up to more than the app may make",
    )
    spotify_endpoints: dict[str, list[RateText]] = Field(default_factory=dict)
    spotify_concurrency: int | None = Field(default=None, ge=1)
    reccobeats_endpoints: dict[str, list[RateText]] = Field(
        default_factory=lambda: {k: list(v) for k, v in _RECCOBEATS_ENDPOINTS.items()}
    )
    reccobeats_concurrency: int | None = Field(default=5, ge=1)
    ban_threshold: float = Field(default=60.0, gt=0)
    min_multiplier: float = Field(default=0.25, gt=0, le=1)
    store_down: Literal["fail-closed", "per-process"] = "fail-closed"
    expected_processes: int = Field(default=4, ge=1)
    margin: float = Field(
        default=0.25,
        ge=0,
        description="seconds added to every window, for what the limiter cannot see: where "
        "the upstream's window edge falls, clocks that drift (a call's own delays are covered: "
        "its slot is held until its answer is back)",
    )

    def time_scaled(self, scale: float) -> RateLimitSettings:
        """The same budgets, Spotify's and ReccoBeats', with every window divided by `scale`
        (the simulator's time scale, which scales both); the margin stays, since network
        delays do not shrink."""

        def faster(text: str) -> str:
            rate = Rate.parse(text)
            return f"{rate.limit}/{rate.period / scale:g}"

        windows = ("spotify_read", "spotify_write", "spotify_batch", "spotify_shared")
        scaled: dict[str, Any] = {
            name: faster(getattr(self, name)) for name in windows if getattr(self, name)
        }
        for name in ("spotify_endpoints", "reccobeats_endpoints"):
            endpoints: dict[str, list[str]] = getattr(self, name)
            scaled[name] = {key: list(map(faster, rates)) for key, rates in endpoints.items()}
        return self.model_copy(update=scaled)

    def _rate(self, text: str) -> Rate:
        rate = Rate.parse(text)
        return Rate(rate.limit, rate.period + self.margin)

    def _max_default_pause(self) -> float:
        # No pause may outlast the ban threshold: a threshold below the policy's default cap
        # (e.g. time-scaled) lowers the cap instead of making the policy invalid.
        return min(Policy.max_default_pause, self.ban_threshold)

    def spotify_policy(self, client_id: str) -> Policy:
        return Policy(
            app=f"spotify:{client_id}",
            classes={
                "read": (self._rate(self.spotify_read),),
                "write": (self._rate(self.spotify_write),),
                "batch": (self._rate(self.spotify_batch),),
            },
            shared=(self._rate(self.spotify_shared),) if self.spotify_shared else (),
            endpoints={k: tuple(map(self._rate, v)) for k, v in self.spotify_endpoints.items()},
            concurrency=self.spotify_concurrency,
            ban_threshold=self.ban_threshold,
            max_default_pause=self._max_default_pause(),
            min_multiplier=self.min_multiplier,
        )

    def reccobeats_policy(self) -> Policy:
        return Policy(
            app="reccobeats",
            endpoints={k: tuple(map(self._rate, v)) for k, v in self.reccobeats_endpoints.items()},
            concurrency=self.reccobeats_concurrency,
            ban_threshold=self.ban_threshold,
            max_default_pause=self._max_default_pause(),
            min_multiplier=self.min_multiplier,
        )


class SpotifySettings(BaseModel):
    """The app backbeat calls Spotify as. The defaults point at Spotify with the simulator's
    development app; `backbeat demo` and the tests point the URLs at the simulator."""

    client_id: str = "backbeat-dev"
    client_secret: str = "backbeat-dev-secret"
    api_url: str = "https://api.spotify.com/v1"
    accounts_url: str = "https://accounts.spotify.com"
    timeout: float = Field(default=10.0, gt=0)


class ReccoBeatsSettings(BaseModel):
    url: str = "https://api.reccobeats.com"


class CacheSettings(BaseModel):
    url: str | None = Field(default=None, description="mem:// or redis://…; default: redis_url")
    ttls: dict[str, float] = Field(default_factory=dict, description="seconds per endpoint")


def _cron(text: str) -> str:
    # Shape only (five fields of digits and * / , -); `backbeat.jobs.schedule` parses fully.
    fields = text.split()
    if len(fields) != 5 or any(f.strip("0123456789*/,-") for f in fields):
        raise ValueError(f"expected a 5-field cron spec like '0 2 * * *', got {text!r}")
    return text


CronText = Annotated[str, AfterValidator(_cron)]


class JobsSettings(BaseModel):
    """Huey queues, job retries and heartbeats, batch fan-out and the cron schedule (UTC)."""

    queues: tuple[str, ...] = ("spotify", "default", "leaderboard", "insights")
    cron_queue: str = Field(default="cron", description="periodic tasks; only the scheduler")
    prefix: str = Field(default="backbeat", description="Huey names: Redis keys, SQLite rows")
    var_dir: str = Field(default="var", description="SqliteHuey files when no redis_url")
    workers: dict[str, int] = Field(
        default_factory=lambda: {"spotify": 8, "default": 2, "leaderboard": 1, "insights": 2}
    )
    poll_max_delay: float = Field(default=1.0, gt=0, description="idle polling cap (SQLite)")
    retry_delays: tuple[float, ...] = (120.0, 240.0, 480.0)
    max_retries: int = Field(default=3, ge=0)
    retry_jitter: float = Field(default=0.1, ge=0, description="share of a delay added at random")
    ban_jitter: float = Field(default=60.0, ge=0, description="seconds spread after a ban ends")
    heartbeat_interval: float = Field(default=15.0, gt=0)
    stale_after: float = Field(default=90.0, gt=0, description="a running job without a beat")
    overdue_after: float = Field(
        default=3600.0, gt=0, description="a waiting job this far past its start is sent again"
    )
    reaper_interval: int = Field(default=60, ge=60, multiple_of=60, description="seconds")
    scan_calls_per_user: float = Field(default=30.0, gt=0, description="upstream calls per scan")
    scan_budget_share: float = Field(default=0.5, gt=0, le=1, description="of the READ rate")
    max_concurrent_users: int = Field(default=5, ge=1)
    inter_user_delay: float = Field(default=5.0, ge=0)
    cron_ingest_all_users: CronText = "0 2 * * *"
    cron_weekly_summaries: CronText = "0 9 * * 0"
    cron_cleanup_jobs: CronText = "0 3 * * 1"
    cleanup_retention_days: int = Field(default=30, ge=1)
    cron_refresh_tokens: CronText = "*/30 * * * *"
    cron_failed_job_monitor: CronText = "*/5 * * * *"
    cron_organize_all_users: CronText = "0 2 * * *"
    plugins: list[str] = Field(
        default_factory=list,
        description="'module:function' entries that contribute job kinds and cron handlers",
    )
    scheduler_lease_ttl: float = Field(default=30.0, gt=0, description="seconds (Redis)")
    user_lease_ttl: float = Field(
        default=60.0,
        gt=0,
        description="seconds (Redis): a dead worker's hold on a user slot frees itself after this",
    )

    def cron(self) -> dict[str, str]:
        """Periodic task name → cron spec (minute hour day month weekday; Sunday is 0)."""
        every = self.reaper_interval // 60
        return {
            "ingest_all_users": self.cron_ingest_all_users,
            "weekly_summaries": self.cron_weekly_summaries,
            "cleanup_jobs": self.cron_cleanup_jobs,
            "refresh_tokens": self.cron_refresh_tokens,
            "failed_job_monitor": self.cron_failed_job_monitor,
            "organize_all_users": self.cron_organize_all_users,
            "reap_stale_jobs": f"*/{every} * * * *" if every > 1 else "* * * * *",
        }


DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///var/backbeat.db"  # relative to the working directory
# Hosts hand out plain `postgres://` URLs; backbeat talks to its databases through async drivers.
_ASYNC_DRIVERS = {
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
}


def _database_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in _ASYNC_DRIVERS:
        raise ValueError(f"expected a sqlite:// or postgresql:// URL, got scheme {scheme!r}")
    return f"{_ASYNC_DRIVERS[scheme]}://{rest}"


def _database_url_from_env() -> str:
    # The platforms' conventional variable; an explicit BACKBEAT_DATABASE__URL wins over it.
    return os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL


class DatabaseSettings(BaseModel):
    """SQLite (embedded) or Postgres; pool options apply to file and server databases."""

    url: Annotated[str, AfterValidator(_database_url)] = Field(
        default_factory=_database_url_from_env, validate_default=True
    )
    echo: bool = False
    pool_size: int = Field(default=5, ge=1)
    max_overflow: int = Field(default=10, ge=0)
    pool_timeout: float = Field(default=30.0, gt=0, description="seconds to wait for a connection")
    pool_recycle: float = Field(default=1800.0, description="seconds; -1: never")
    pool_pre_ping: bool = True
    auto_migrate: bool = Field(default=True, description="upgrade to head when a process starts")


def _key_list(value: object) -> object:
    # One variable holds the list: JSON (`["new","old"]`) or comma-separated (`new,old`).
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        return json.loads(text)
    return [key.strip() for key in text.split(",") if key.strip()]


class SecuritySettings(BaseModel):
    token_keys: Annotated[list[SecretStr], NoDecode, BeforeValidator(_key_list)] = Field(
        default_factory=list, description="Fernet keys for tokens at rest, newest first"
    )


class InsightsSettings(BaseModel):
    """Where insights are written: `offline` (deterministic, from the snapshot's own numbers, no
    network) or `openai` (any OpenAI-compatible chat-completions endpoint)."""

    provider: Literal["offline", "openai"] = "offline"
    base_url: str = Field(default="https://api.openai.com/v1", description="…/chat/completions")
    api_key: SecretStr | None = None
    model: str = "gpt-4o-mini"
    timeout: float = Field(default=60.0, gt=0, description="seconds per request")
    max_retries: int = Field(default=2, ge=0, description="after timeouts, 429 and 5xx")
    temperature: float = Field(default=0.7, ge=0, le=2)


class AuthSettings(BaseModel):
    """Login with Spotify and backbeat's own sessions."""

    session_secret: SecretStr | None = Field(
        default=None, description="signs sessions and API tokens; required outside development"
    )
    session_max_age: int = Field(default=14 * 24 * 3600, ge=60, description="seconds")
    redirect_uri: str = "http://127.0.0.1:8000/auth/callback"
    after_login_url: str = Field(default="/api/users/me", description="where a login ends")
    scopes: str = (
        "user-read-email user-read-private user-top-read user-read-recently-played "
        "user-library-read playlist-read-private playlist-modify-private playlist-modify-public"
    )
    cookie_secure: bool = Field(default=True, description="send the session cookie over HTTPS only")
    admin_token: SecretStr | None = Field(
        default=None, description="bearer token for admin/automation routes; unset: disabled"
    )
    ingest_rate: RateText = Field(default="6/60", description="per user, inbound")
    insights_rate: RateText = Field(default="6/60", description="per user, inbound")
    # Routes that call the upstream while the user waits: a user's own cap, under the app's
    # shared budget (Spotify's 30-s window, ReccoBeats' 60-s one).
    catalog_rate: RateText = Field(
        default="30/30", description="per user, inbound: /api/search and /api/albums"
    )
    discovery_rate: RateText = Field(
        default="10/60", description="per user, inbound: /api/recommendations, /api/audio-features"
    )
    ranking_rate: RateText = Field(
        default="10/600", description="per user, inbound: new ranking sessions and imports"
    )
    passthrough_rate: RateText = Field(
        default="40/30",
        description="per user, inbound: /v1/* (half the app's default read budget at most)",
    )
    # Each token is a session row until it expires or is revoked: a script gets a handful.
    api_token_rate: RateText = Field(
        default="20/3600", description="per user, inbound: new API tokens (POST /auth/token)"
    )


class OrganizerAppSettings(BaseModel):
    """The library organizer: languages it sorts into, and how hard it may use the budget."""

    languages: list[str] = Field(
        default_factory=lambda: ["en", "es", "fr", "de", "pt", "it", "ja", "ko"],
        description="ISO 639-1 codes the detector chooses among",
    )
    min_confidence: float = Field(default=0.3, ge=0, le=1, description="else: no language")
    scan_rate: RateText = Field(default="3/3600", description="manual scans per user, inbound")
    budget_share: float = Field(
        default=1.0, gt=0, le=1, description="of each class's budget the daily scan may use"
    )


class ApiSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    consumers: Literal["auto", "on", "off"] = Field(
        default="auto",
        description="job consumers inside the API process; auto: on without Redis (embedded)",
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="BACKBEAT_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    environment: Literal["development", "test", "production"] = "development"
    require_services: bool = False
    redis_url: str | None = Field(
        # BACKBEAT_REDIS_URL, else the platforms' conventional REDIS_URL.
        default_factory=lambda: os.environ.get("REDIS_URL") or None,
        description="shared state of every process",
    )
    spotify: SpotifySettings = Field(default_factory=SpotifySettings)
    reccobeats: ReccoBeatsSettings = Field(default_factory=ReccoBeatsSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    simulator: SimulatorSettings = Field(default_factory=SimulatorSettings)
    ratelimit: RateLimitSettings = Field(default_factory=RateLimitSettings)
    jobs: JobsSettings = Field(default_factory=JobsSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    insights: InsightsSettings = Field(default_factory=InsightsSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    organizer: OrganizerAppSettings = Field(default_factory=OrganizerAppSettings)
