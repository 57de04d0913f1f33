"""Settings: nested groups from the environment, rates checked when settings load."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from backbeat.config import RateLimitSettings, Settings
from backbeat.ratelimit import Rate


def test_nested_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BACKBEAT_SIMULATOR__LIMIT", "20")
    monkeypatch.setenv("BACKBEAT_RATELIMIT__SPOTIFY_READ", "100/30")
    monkeypatch.setenv("BACKBEAT_RATELIMIT__URL", "redis://127.0.0.1:6379/3")
    settings = Settings()
    assert settings.simulator.limit == 20
    assert settings.ratelimit.url == "redis://127.0.0.1:6379/3"
    assert settings.ratelimit.spotify_policy("abc").classes["read"] == (Rate(100, 30.25),)


def test_policies_from_settings() -> None:
    limits = RateLimitSettings(spotify_endpoints={"search": ["10/30", "1/0.5"]}, margin=0)
    spotify = limits.spotify_policy("client")
    assert spotify.app == "spotify:client"
    assert [w.rate for w in spotify.windows("read", "search")] == [
        Rate(80, 30), Rate(10, 30), Rate(1, 0.5)
    ]  # fmt: skip
    recco = RateLimitSettings().reccobeats_policy()  # with the default network margin
    assert recco.concurrency == 5
    assert [w.rate for w in recco.windows("read", "artist_track")] == [
        Rate(45, 60.25),
        Rate(1, 1.75),
    ]


def test_a_malformed_rate_is_refused_with_a_message() -> None:
    with pytest.raises(ValidationError, match="LIMIT/SECONDS"):
        RateLimitSettings(spotify_read="eighty per minute")


def test_a_time_scaled_budget_divides_every_window_but_not_the_margin() -> None:
    from backbeat.config import RateLimitSettings

    scaled = RateLimitSettings(spotify_shared="100/30").time_scaled(60)
    assert (scaled.spotify_read, scaled.spotify_write, scaled.spotify_batch) == (
        "80/0.5",
        "30/0.5",
        "20/0.5",
    )
    assert scaled.spotify_shared == "100/0.5"
    assert scaled.margin == RateLimitSettings().margin
    assert RateLimitSettings().time_scaled(2).spotify_shared is None
    # Endpoint windows too, ReccoBeats' included: the simulator scales both upstreams.
    endpoints = RateLimitSettings(spotify_endpoints={"search": ["10/30"]}).time_scaled(60)
    assert endpoints.spotify_endpoints == {"search": ["10/0.5"]}
    assert endpoints.reccobeats_endpoints["artist_track"] == ["45/1", "1/0.025"]


def test_a_ban_threshold_below_the_default_pause_cap_lowers_the_cap() -> None:
    # A time-scaled ban threshold (here 2 s) used to make every policy invalid at start-up.
    limits = RateLimitSettings(ban_threshold=2.0)
    for policy in (limits.spotify_policy("app"), limits.reccobeats_policy()):
        assert (policy.ban_threshold, policy.max_default_pause) == (2.0, 2.0)
    assert RateLimitSettings().spotify_policy("app").max_default_pause == 30.0
