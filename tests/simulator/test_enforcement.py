from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backbeat.clock import FakeClock
from backbeat.config import RetryAfterMode, SimulatorSettings, WindowLimit
from backbeat.simulator.enforcement import DAY, EnforcementPolicy, Enforcer, format_retry_after
from backbeat.simulator.errors import SpotifyError
from backbeat.simulator.stats import Stats

APP = "client-1"


def make(
    policy: EnforcementPolicy, start: float = 1_790_000_000.0
) -> tuple[Enforcer, FakeClock, Stats]:
    clock = FakeClock(start)
    stats = Stats(policy.time_scale)
    return Enforcer(policy, clock, stats), clock, stats


def call(enforcer: Enforcer, endpoint: str = "search", app: str = APP) -> SpotifyError | None:
    """One request as the middleware makes it: admit, then record the final status."""
    try:
        enforcer.admit(app, endpoint, "read")
    except SpotifyError as error:
        enforcer.stats.responded(app, endpoint, "read", error.status)
        return error
    enforcer.stats.responded(app, endpoint, "read", 200)
    return None


def test_twenty_five_quick_calls_against_twenty_per_three_seconds() -> None:
    enforcer, _, stats = make(EnforcementPolicy(limit=20, window=3))
    results = [call(enforcer) for _ in range(25)]
    assert all(r is None for r in results[:20])
    rejected = [r for r in results[20:] if r is not None]
    assert len(rejected) == 5
    for error in rejected:
        assert error.status == 429
        assert error.body() == {"error": {"status": 429, "message": "API rate limit exceeded"}}
        assert int(error.headers["Retry-After"]) >= 1
    app = stats.snapshot()["apps"][APP]
    assert app["requests"] == 25
    assert app["successes"] == 20
    assert app["http_429"] == 5
    assert app["max_in_window"] == 20
    assert app["limit"] == 20
    assert app["window_s"] == 3


def test_window_slides_and_admits_again() -> None:
    enforcer, clock, _ = make(EnforcementPolicy(limit=3, window=10))
    for _ in range(3):
        assert call(enforcer) is None
        clock.advance(2)
    # Calls at 0, 2, 4; now 6: full until the first one leaves at 10.
    error = call(enforcer)
    assert error is not None
    assert error.headers["Retry-After"] == "4"
    clock.advance(4)  # t = 10: the call at 0 is out of (0, 10]
    assert call(enforcer) is None
    assert call(enforcer) is not None  # the calls at 2 and 4 and 10 fill it again
    clock.advance(2)  # t = 12: the call at 2 left
    assert call(enforcer) is None


@settings(max_examples=60, deadline=None)
@given(
    limit=st.integers(1, 6),
    window=st.floats(0.5, 5),
    gaps=st.lists(st.floats(0, 2), min_size=1, max_size=80),
)
def test_no_rolling_window_ever_exceeds_the_limit(
    limit: int, window: float, gaps: list[float]
) -> None:
    enforcer, clock, stats = make(EnforcementPolicy(limit=limit, window=window, cooldown_growth=1))
    admitted: list[float] = []
    for gap in gaps:
        clock.advance(gap)
        if call(enforcer) is None:
            admitted.append(clock.monotonic())
    assert admitted  # the very first call always passes
    # Brute force over every window ending at an admission: (t - window, t].
    counts = [sum(1 for s in admitted if s <= t and s + window > t) for t in admitted]
    assert max(counts) <= limit
    assert stats.snapshot()["apps"][APP]["max_in_window"] == max(counts)


def test_calling_during_cooldown_makes_it_longer() -> None:
    enforcer, clock, _ = make(EnforcementPolicy(limit=2, window=10, cooldown_growth=1.5))
    call(enforcer)
    call(enforcer)
    first = call(enforcer)
    assert first is not None
    assert first.headers["Retry-After"] == "10"
    clock.advance(4)
    second = call(enforcer)  # 6 s left, grown to 9
    assert second is not None
    assert second.headers["Retry-After"] == "9"
    clock.advance(8)  # t = 12: the window has room, but the cooldown lasts until 13
    third = call(enforcer)
    assert third is not None
    assert third.headers["Retry-After"] == "2"  # 1 s left, grown to 1.5, rounded up
    clock.advance(1.5)
    assert call(enforcer) is None


def test_cooldown_growth_is_capped() -> None:
    enforcer, clock, _ = make(
        EnforcementPolicy(limit=1, window=10, cooldown_growth=4, cooldown_max=15)
    )
    call(enforcer)
    call(enforcer)  # cooldown 10
    clock.advance(2)
    error = call(enforcer)  # 8 * 4 = 32, capped at 15
    assert error is not None
    assert error.headers["Retry-After"] == "15"
    assert enforcer.snapshot_app(APP) == {
        "in_window": 1,
        "cooldown_remaining": 15,
        "day_count": 1,
    }


def test_honest_retry_after_is_enough_to_wait() -> None:
    enforcer, clock, _ = make(EnforcementPolicy(limit=2, window=5))
    call(enforcer)
    clock.advance(0.5)
    call(enforcer)
    error = call(enforcer)
    assert error is not None
    assert error.headers["Retry-After"] == "5"  # 4.5 s rounded up
    clock.advance(float(error.headers["Retry-After"]))
    assert call(enforcer) is None


@pytest.mark.parametrize(("mode", "header"), [("zero", "0"), ("missing", None), ("honest", "10")])
def test_retry_after_modes(mode: RetryAfterMode, header: str | None) -> None:
    enforcer, _, _ = make(EnforcementPolicy(limit=1, window=10, retry_after_mode=mode))
    call(enforcer)
    error = call(enforcer)
    assert error is not None
    assert error.status == 429
    assert error.headers.get("Retry-After") == header


def test_early_retry_after_leads_to_a_fresh_429() -> None:
    enforcer, clock, _ = make(EnforcementPolicy(limit=1, window=10, retry_after_mode="early"))
    call(enforcer)
    error = call(enforcer)
    assert error is not None
    assert error.headers["Retry-After"] == "5"
    clock.advance(5)
    again = call(enforcer)
    assert again is not None
    assert again.status == 429


def test_scaled_retry_after_is_in_real_seconds_with_milliseconds() -> None:
    enforcer, clock, stats = make(EnforcementPolicy(limit=2, window=3, time_scale=10))
    call(enforcer)
    call(enforcer)
    error = call(enforcer)
    assert error is not None
    header = error.headers["Retry-After"]
    assert re.fullmatch(r"\d+\.\d{3}", header)
    assert header == "0.300"  # 3 simulated seconds at 10x
    clock.advance(float(header))
    assert call(enforcer) is None
    assert stats.snapshot()["apps"][APP]["window_s"] == 3


def test_format_retry_after() -> None:
    assert format_retry_after(2.01, 1) == "3"
    assert format_retry_after(0.2, 1) == "1"
    assert format_retry_after(0.3004, 10) == "0.301"
    assert format_retry_after(0.00001, 10) == "0.001"
    assert format_retry_after(12.5, 0.5) == "12.500"


def test_endpoint_limit_is_checked_with_the_app_window() -> None:
    policy = EnforcementPolicy(
        limit=10, window=30, endpoint_limits={"search": WindowLimit(count=2, window=5)}
    )
    enforcer, clock, stats = make(policy)
    assert call(enforcer, "search") is None
    assert call(enforcer, "search") is None
    error = call(enforcer, "search")
    assert error is not None
    assert error.headers["Retry-After"] == "5"
    clock.advance(5)
    assert call(enforcer, "album_tracks") is None  # other endpoints only meet the app window
    assert call(enforcer, "search") is None
    for _ in range(6):
        assert call(enforcer, "album_tracks") is None
    clock.advance(5)
    # 10 in the app window now: search has room of its own but the app has none.
    assert call(enforcer, "search") is not None
    snapshot = stats.snapshot()["apps"][APP]
    assert snapshot["by_endpoint"]["search"]["max_in_window"] == 2
    assert snapshot["by_endpoint"]["search"]["http_429"] == 2
    assert snapshot["max_in_window"] == 10


def test_apps_are_counted_apart() -> None:
    enforcer, _, _ = make(EnforcementPolicy(limit=1, window=10))
    assert call(enforcer, app="a") is None
    assert call(enforcer, app="b") is None
    assert call(enforcer, app="a") is not None


def test_daily_quota_rejects_with_quota_exceeded_until_the_day_ends() -> None:
    policy = EnforcementPolicy(
        limit=100, window=30, daily_quota=5, retry_after_mode="zero", time_scale=100
    )
    enforcer, clock, stats = make(policy, start=0.0)
    for _ in range(5):
        assert call(enforcer) is None
        clock.advance(60)
    error = call(enforcer)  # t = 300 real s of an 864 s real day
    assert error is not None
    assert error.status == 429
    assert error.reason == "QUOTA_EXCEEDED"
    assert error.body()["error"]["reason"] == "QUOTA_EXCEEDED"
    # Honest and long even though rate 429s advertise "0".
    assert error.headers["Retry-After"] == "564.000"
    clock.advance(563)
    assert call(enforcer) is not None
    clock.advance(1)
    assert call(enforcer) is None
    assert stats.snapshot()["apps"][APP]["http_429"] == 2


def test_daily_quota_day_counts_from_first_request() -> None:
    enforcer, clock, _ = make(EnforcementPolicy(limit=100, window=30, daily_quota=1))
    assert call(enforcer) is None
    clock.advance(3 * DAY + 100)  # days roll over back to back from the first request
    assert call(enforcer) is None
    error = call(enforcer)
    assert error is not None
    assert error.headers["Retry-After"] == str(int(DAY - 100))


def test_reset_forgets_windows_and_cooldowns() -> None:
    enforcer, _, _ = make(EnforcementPolicy(limit=1, window=10))
    call(enforcer)
    assert call(enforcer) is not None
    enforcer.reset()
    assert enforcer.snapshot_app(APP) is None
    assert call(enforcer) is None


def test_policies_from_settings() -> None:
    config = SimulatorSettings.model_validate(
        {
            "limit": 80,
            "window": 30,
            "endpoint_limits": {"search": "10/30"},
            "daily_quota": 1000,
            "retry_after_mode": "early",
            "time_scale": 20,
            "reccobeats_limit": 60,
            "reccobeats_window": 60,
        }
    )
    spotify = EnforcementPolicy.spotify(config)
    assert (spotify.limit, spotify.window, spotify.daily_quota) == (80, 30, 1000)
    assert spotify.endpoint_limits == {"search": WindowLimit(count=10, window=30)}
    assert spotify.retry_after_mode == "early"
    assert spotify.real(30) == 1.5
    recco = EnforcementPolicy.reccobeats(config)
    assert (recco.limit, recco.window, recco.daily_quota) == (60, 60, 0)
    assert recco.endpoint_limits == {}
    assert recco.retry_after_mode == "honest"
    assert recco.time_scale == 20
