"""The daily fan-out plan: the formula, the binding class, development mode."""

from __future__ import annotations

import math

import pytest

from backbeat.config import RateLimitSettings
from backbeat.domain.organizer import (
    CallsPerUser,
    estimate_calls,
    estimate_ingest_calls,
    fan_out_plan,
)


def test_the_estimate_follows_the_formula() -> None:
    calls = estimate_calls(new_likes=120, playlists=60, creates=2, touched=5, playlist_size=250)
    # liked pages 2 + 1, listing 2, items 5 × 3; artists 96 → 2 batches; adds max(5, 3) + 2.
    assert calls == CallsPerUser(read=3 + 2 + 15, write=7, batch=2)
    steady = estimate_calls()
    assert steady == CallsPerUser(read=1 + 0.1 + 8, write=4.1, batch=1)
    development = estimate_calls(new_likes=20, development=True)
    assert (development.batch, development.read) == (0, steady.read + 16)
    assert estimate_calls(new_likes=0, touched=0) == CallsPerUser(read=1.1, write=0.1, batch=0)


def test_the_binding_class_decides_the_window() -> None:
    limits = RateLimitSettings()  # 80/30, 30/30, 20/30, margin 0.25
    calls = CallsPerUser(read=10, write=4, batch=1)
    plan = fan_out_plan(1000, limits, calls)
    read = {c.op_class: c for c in plan.classes}["read"]
    assert (read.limit, read.period_s, read.usable) == (80, 30.25, 79)
    assert read.window_s == pytest.approx(1000 * 10 * 30.25 / 79)
    write = {c.op_class: c for c in plan.classes}["write"]
    assert write.window_s == pytest.approx(1000 * 4 * 30.25 / 29)
    assert plan.binding_class == "write"  # 4/29 of a window beats 10/79
    assert plan.scan_window_s == pytest.approx(write.window_s)
    assert plan.users_per_day_max == math.floor(86_400 * 29 / (30.25 * 4))
    assert plan.fits_in_a_day
    data = plan.as_json()
    assert {"users", "calls_per_user", "scan_window_s", "users_per_day_max"} <= set(data)
    assert data["calls_per_user"] == 15
    assert set(data["classes"]) == {"read", "write", "batch"}


def test_a_share_of_the_budget_and_too_many_users() -> None:
    limits = RateLimitSettings(spotify_read="10/30", margin=0)
    calls = CallsPerUser(read=30, write=0, batch=0)
    plan = fan_out_plan(100_000, limits, calls, share=0.5)
    assert plan.binding_class == "read"
    assert plan.users_per_day_max == math.floor(86_400 * 9 * 0.5 / (30 * 30))
    assert not plan.fits_in_a_day
    assert {c.op_class: c.users_per_day_max for c in plan.classes}["write"] is None


def test_development_mode_holds_five_users() -> None:
    plan = fan_out_plan(50, RateLimitSettings(), development=True)
    assert plan.users_per_day_max == 5
    assert plan.calls.batch == 0
    assert not plan.fits_in_a_day
    with pytest.raises(ValueError, match="users"):
        fan_out_plan(-1, RateLimitSettings())
    with pytest.raises(ValueError, match="share"):
        fan_out_plan(1, RateLimitSettings(), share=0)


def test_the_ingest_adds_to_the_scan_and_a_shared_window_is_planned_too() -> None:
    ingest = estimate_ingest_calls()
    assert ingest == CallsPerUser(read=7, write=0, batch=6)
    calls = estimate_calls() + ingest
    assert calls.total == pytest.approx(estimate_calls().total + 13)
    # Per class the budget holds; one window of 60 over every call is what binds.
    limits = RateLimitSettings(spotify_shared="60/30")
    plan = fan_out_plan(1000, limits, calls)
    shared = {c.op_class: c for c in plan.classes}["shared"]
    assert shared.calls_per_user == calls.total
    assert shared.window_s == pytest.approx(1000 * calls.total * 30.25 / 59)
    assert plan.binding_class == "shared"
    assert plan.users_per_day_max == math.floor(86_400 * 59 / (30.25 * calls.total))
    assert set(plan.as_json()["classes"]) == {"read", "write", "batch", "shared"}
    assert "shared" not in {c.op_class for c in fan_out_plan(1000, RateLimitSettings()).classes}
