from __future__ import annotations

from backbeat.simulator.stats import RollingMax, Stats

FIVE = {"requests", "successes", "http_429", "http_5xx", "max_in_window"}


def test_snapshot_shape_and_counts() -> None:
    stats = Stats(2.0)
    stats.configure("app", limit=20, window=30)
    stats.admitted("app", "search", "read", 0.0)
    stats.admitted("app", "search", "read", 1.0)
    stats.admitted("app", "add_items", "write", 2.0)
    stats.responded("app", "search", "read", 200)
    stats.responded("app", "search", "read", 204)
    stats.responded("app", "add_items", "write", 503)
    stats.responded("app", "search", "read", 429)
    stats.responded("app", "search", "read", 404)

    snapshot = stats.snapshot()
    assert snapshot["time_scale"] == 2.0
    app = snapshot["apps"]["app"]
    assert set(app) == FIVE | {"limit", "window_s", "by_endpoint", "by_class"}
    assert (app["requests"], app["successes"], app["http_429"], app["http_5xx"]) == (5, 2, 1, 1)
    assert app["max_in_window"] == 3
    assert (app["limit"], app["window_s"]) == (20, 30)  # simulated, not scaled

    search = app["by_endpoint"]["search"]
    assert set(search) == FIVE
    assert (search["requests"], search["successes"], search["http_429"]) == (4, 2, 1)
    assert search["max_in_window"] == 2
    assert app["by_endpoint"]["add_items"]["http_5xx"] == 1

    assert set(app["by_class"]) == {"read", "write", "batch"}
    assert app["by_class"]["read"]["requests"] == 4
    assert app["by_class"]["write"]["max_in_window"] == 1
    assert app["by_class"]["batch"] == dict.fromkeys(FIVE, 0)


def test_rejected_requests_count_but_not_in_the_window() -> None:
    stats = Stats()
    stats.configure("app", limit=1, window=30)
    stats.admitted("app", "search", "read", 0.0)
    for _ in range(3):
        stats.responded("app", "search", "read", 429)
    app = stats.snapshot()["apps"]["app"]
    assert app["requests"] == 3
    assert app["http_429"] == 3
    assert app["max_in_window"] == 1


def test_window_excludes_its_left_edge() -> None:
    rolling = RollingMax(3.0)
    for at in (0.0, 1.0, 3.0):  # at t = 3 the window is (0, 3]: the call at 0 is out
        rolling.add(at)
    assert rolling.max == 2
    rolling.add(3.5)  # (0.5, 3.5] holds 1, 3, 3.5
    assert rolling.max == 3


def test_max_is_the_peak_not_the_current_count() -> None:
    rolling = RollingMax(1.0)
    for at in (0.0, 0.1, 0.2, 0.3, 5.0, 10.0):
        rolling.add(at)
    assert rolling.max == 4


def test_windows_are_divided_by_the_time_scale() -> None:
    times = (0.0, 0.29, 0.31)
    slow, fast = Stats(1.0), Stats(10.0)
    for stats in (slow, fast):
        stats.configure("app", limit=5, window=3)
        for at in times:
            stats.admitted("app", "search", "read", at)
    assert slow.snapshot()["apps"]["app"]["max_in_window"] == 3
    # A 0.3 s real window: the call at 0 is gone by 0.31.
    fast_app = fast.snapshot()["apps"]["app"]
    assert fast_app["max_in_window"] == 2
    assert fast_app["window_s"] == 3


def test_endpoint_with_its_own_limit_uses_its_own_window() -> None:
    stats = Stats()
    stats.configure("app", limit=100, window=30, endpoint_windows={"search": 5})
    for at in (0.0, 4.0, 6.0, 8.0):
        stats.admitted("app", "search", "read", at)
        stats.admitted("app", "album_tracks", "read", at)
    app = stats.snapshot()["apps"]["app"]
    assert app["by_endpoint"]["search"]["max_in_window"] == 3  # (3, 8] holds 4, 6, 8
    assert app["by_endpoint"]["album_tracks"]["max_in_window"] == 4
    assert app["max_in_window"] == 8


def test_unconfigured_apps_use_the_defaults() -> None:
    stats = Stats(limit=60, window=60)
    stats.responded("reccobeats", "track_recommendation", "read", 200)
    app = stats.snapshot()["apps"]["reccobeats"]
    assert (app["limit"], app["window_s"], app["requests"]) == (60, 60, 1)


def test_reset_clears_counts_but_keeps_limits() -> None:
    stats = Stats()
    stats.configure("app", limit=7, window=9)
    stats.admitted("app", "search", "read", 0.0)
    stats.responded("app", "search", "read", 200)
    stats.reset()
    assert stats.snapshot() == {"time_scale": 1.0, "apps": {}}
    stats.admitted("app", "search", "read", 1.0)
    app = stats.snapshot()["apps"]["app"]
    assert (app["requests"], app["max_in_window"], app["limit"], app["window_s"]) == (0, 1, 7, 9)


def test_timeline_lists_admissions_in_real_seconds() -> None:
    stats = Stats(60.0)
    stats.configure("app", limit=80, window=30)
    for at in (1.0, 1.2, 1.7):
        stats.admitted("app", "search", "read", at)
    stats.responded("app", "search", "read", 429)  # refused: not in the timeline
    line = stats.timeline("app")
    assert line == {"app": "app", "limit": 80, "window_real_s": 0.5, "admitted_at": [1.0, 1.2, 1.7]}
    assert stats.timeline("nobody")["admitted_at"] == []
