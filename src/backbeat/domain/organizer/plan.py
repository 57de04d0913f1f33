"""The daily fan-out plan of the organizer (pure): how long scanning N users takes inside the
Spotify budget, which operation class binds, and how many users a day can hold.

Calls per user and scan, by class, estimated from a day's new likes L, the user's playlist count
P, playlists made per scan C, playlists receiving songs T of average size S, new primary artists A
(or measured: `ScanResult.calls` of real scans, averaged):

    read  = ⌊L / 50⌋ + 1              liked-songs pages, one more to reach the cursor
          + min(C, 1) × ⌈P / 50⌉      the user's playlists, read only when one must be made
          + T × ⌈S / 100⌉             items of each playlist that gets songs (dedup check)
          (+ A in development mode: artists one by one)
    batch = ⌈A / 50⌉                  artists for genres (none in development mode)
    write = C + max(T, ⌈L × K / 100⌉) playlists made + add requests (K kinds kept: 1 or 2)

The listening ingest the scheduler fires at the same hour shares the day's budget; per user and
time range R (three by default): top tracks and top artists (2 reads), audio features of the top
and recent tracks and the artists not among the top ones (2 batches), and the recently played
page once (its answer is cached across the ranges):

    ingest: read = 2R + 1, batch = 2R

Budget per class: a window of `limit` calls per `period + margin` seconds (`RateLimitSettings`),
less the one slot the limiter always keeps for interactive (HIGH) calls, times `share` (the part
of the budget the scan may use). With `usable` calls per window of `period` seconds:

    window_s(class)          = users × calls(class) × period / usable
    users_per_day_max(class) = ⌊86 400 × usable / (period × calls(class))⌋

Where the app has a window over every call (`spotify_shared`), it is one more "class" whose
calls per user are the total. The class with the longest window binds: `scan_window_s` and
`users_per_day_max` are its.
Development-mode apps hold at most 5 users whatever the budget.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from backbeat.config import RateLimitSettings
from backbeat.ratelimit import OpClass, Rate

DAY = 86_400.0
DEVELOPMENT_USERS = 5  # Spotify's cap on users of a development-mode app
CLASSES: tuple[OpClass, ...] = ("read", "write", "batch")


@dataclass(frozen=True, slots=True)
class CallsPerUser:
    read: float
    write: float
    batch: float

    def of(self, op_class: OpClass) -> float:
        return float(getattr(self, op_class))

    @property
    def total(self) -> float:
        return self.read + self.write + self.batch

    def __add__(self, other: CallsPerUser) -> CallsPerUser:
        return CallsPerUser(
            read=self.read + other.read,
            write=self.write + other.write,
            batch=self.batch + other.batch,
        )


def estimate_calls(
    *,
    new_likes: float = 20,
    playlists: float = 20,
    creates: float = 0.1,
    touched: float = 4,
    playlist_size: float = 150,
    new_artists: float | None = None,
    kinds: int = 2,
    development: bool = False,
) -> CallsPerUser:
    """The module's formula. Defaults: a steady daily scan (a few new likes, playlists made
    rarely); a first scan has L = the whole library and C = the groups it finds."""
    artists = new_likes * 0.8 if new_artists is None else new_artists
    read = float(math.floor(new_likes / 50) + 1)
    read += min(creates, 1.0) * math.ceil(playlists / 50)
    read += touched * math.ceil(playlist_size / 100)
    batch = 0.0 if development else float(math.ceil(artists / 50))
    if development:
        read += artists
    adds = max(touched, math.ceil(new_likes * kinds / 100)) if new_likes else 0
    return CallsPerUser(read=read, write=creates + adds, batch=batch)


def estimate_ingest_calls(time_ranges: int = 3) -> CallsPerUser:
    """The daily listening ingest of one user (the module's formula)."""
    return CallsPerUser(read=2.0 * time_ranges + 1, write=0.0, batch=2.0 * time_ranges)


SHARED = "shared"  # the window over every call, planned as a class of its own


@dataclass(frozen=True, slots=True)
class ClassPlan:
    op_class: str  # an OpClass, or SHARED
    calls_per_user: float
    limit: int
    period_s: float  # the window plus the limiter's margin
    usable: float  # calls per window the scan may take
    window_s: float  # to scan every user in this class alone
    users_per_day_max: int | None  # None: the scan makes no calls of this class

    def as_json(self) -> dict[str, Any]:
        return {
            "calls_per_user": self.calls_per_user,
            "limit": self.limit,
            "period_s": self.period_s,
            "usable_per_window": self.usable,
            "window_s": round(self.window_s, 1),
            "users_per_day_max": self.users_per_day_max,
        }


@dataclass(frozen=True, slots=True)
class FanOutPlan:
    users: int
    calls: CallsPerUser
    classes: tuple[ClassPlan, ...]
    binding_class: str
    scan_window_s: float
    users_per_day_max: int
    share: float
    development: bool

    @property
    def fits_in_a_day(self) -> bool:
        return self.scan_window_s <= DAY and self.users <= self.users_per_day_max

    def as_json(self) -> dict[str, Any]:
        return {
            "users": self.users,
            "calls_per_user": round(self.calls.total, 2),
            "scan_window_s": round(self.scan_window_s, 1),
            "users_per_day_max": self.users_per_day_max,
            "binding_class": self.binding_class,
            "fits_in_a_day": self.fits_in_a_day,
            "share": self.share,
            "development": self.development,
            "classes": {c.op_class: c.as_json() for c in self.classes},
        }


def _rate(limits: RateLimitSettings, op_class: OpClass) -> Rate:
    text: str = getattr(limits, f"spotify_{op_class}")
    return Rate.parse(text)


def fan_out_plan(
    users: int,
    limits: RateLimitSettings,
    calls: CallsPerUser | None = None,
    *,
    share: float = 1.0,
    development: bool = False,
) -> FanOutPlan:
    """The plan for `users` daily scans of `calls` each (default: `estimate_calls()`)."""
    if users < 0:
        raise ValueError("users must be ≥ 0")
    if not 0 < share <= 1:
        raise ValueError("share must be in (0, 1]")
    calls = calls or estimate_calls(development=development)
    windows: list[tuple[str, Rate, float]] = [
        (op_class, _rate(limits, op_class), calls.of(op_class)) for op_class in CLASSES
    ]
    if limits.spotify_shared:
        windows.append((SHARED, Rate.parse(limits.spotify_shared), calls.total))
    plans = []
    for name, rate, per_user in windows:
        period = rate.period + limits.margin
        usable = (rate.limit - min(rate.limit // 4, 1)) * share
        window = users * per_user * period / usable
        most = math.floor(DAY * usable / (period * per_user)) if per_user > 0 else None
        plans.append(ClassPlan(name, per_user, rate.limit, period, usable, window, most))
    binding = max(plans, key=lambda plan: (plan.window_s, plan.calls_per_user))
    bounds = [plan.users_per_day_max for plan in plans if plan.users_per_day_max is not None]
    most_users = min(bounds) if bounds else users  # no calls at all: the budget binds nobody
    if development:
        most_users = min(most_users, DEVELOPMENT_USERS)
    return FanOutPlan(
        users=users,
        calls=calls,
        classes=tuple(plans),
        binding_class=binding.op_class,
        scan_window_s=binding.window_s,
        users_per_day_max=most_users,
        share=share,
        development=development,
    )
