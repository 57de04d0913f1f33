"""The dashboard's numbers as the page shows them, by field name: formatted once, here, for both
the server-rendered page and the script that refreshes it (`display` in `/dashboard/data`).

Field names join their parts with `|` (app names and window keys contain `:`):
`jobs|<status>`, `queue|<name>`, `scheduled|<name>`, `cache|hit_rate`, `app|<app>|multiplier`,
`app|<app>|waiters|<PRIORITY>`, `app|<app>|429|<reason>`, `app|<app>|window|<key>|used`, …
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

NONE = "–"


def countdown(seconds: float) -> str:
    """`12 s`, `4 m 05 s`, `3 h 02 m`; `–` when nothing is pending. Same as the page's script."""
    if seconds <= 0:
        return NONE
    whole = int(seconds + 0.999)  # round up: "1 s" until it is over
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} m {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} m"


def state_of(app: Mapping[str, Any]) -> str:
    if app["ban_remaining"] > 0:
        return "banned"
    if app["pause_remaining"] > 0:
        return "paused"
    if app["warming_up"]:
        return "warming up"
    return "ok"


def fields(data: Mapping[str, Any]) -> dict[str, str]:
    shown: dict[str, str] = {}
    for status, count in data["jobs"].items():
        shown[f"jobs|{status}"] = str(count)
    shown["jobs|total"] = str(sum(data["jobs"].values()))
    for name, depth in data["queues"].items():
        shown[f"queue|{name}"] = str(depth)
    for name, depth in data["scheduled"].items():
        shown[f"scheduled|{name}"] = str(depth)
    shown["queue|total"] = str(sum(data["queues"].values()))
    cache = data["cache"]
    shown["cache|hits"] = str(cache["hits"])
    shown["cache|misses"] = str(cache["misses"])
    rate = cache["hit_rate"]
    shown["cache|hit_rate"] = NONE if rate is None else f"{rate * 100:.1f} %"
    total_429 = 0
    for app in data["apps"]:
        prefix = f"app|{app['app']}"
        shown[f"{prefix}|state"] = state_of(app)
        shown[f"{prefix}|pause"] = countdown(app["pause_remaining"])
        shown[f"{prefix}|ban"] = countdown(app["ban_remaining"])
        shown[f"{prefix}|multiplier"] = f"{app['multiplier']:.2f}"
        last = app["last_429"]
        shown[f"{prefix}|last_429"] = NONE if not last else f"{last:.2f}"
        shown[f"{prefix}|in_flight"] = str(app["in_flight"])
        shown[f"{prefix}|grants"] = str(app["grants"])
        for priority, count in app["waiters"].items():
            shown[f"{prefix}|waiters|{priority}"] = str(count)
        for reason, count in app["http_429"].items():
            shown[f"{prefix}|429|{reason}"] = str(count)
            total_429 += count
        for window in app["windows"]:
            for name in ("used", "effective_limit", "limit"):
                shown[f"{prefix}|window|{window['key']}|{name}"] = str(window[name])
    shown["http_429|total"] = str(total_429)
    return shown
