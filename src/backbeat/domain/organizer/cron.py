"""When a cron spec fires next, read exactly as Huey's scheduler reads it.

Each field's values come from Huey's own `crontab` (so `*/n`, ranges, lists, wrap-around ranges
and 7 as Sunday mean what they mean to the scheduler); the search then walks days, not minutes.
As in Huey, day of month and day of week must both match (cron's usual "either" does not apply).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from huey import crontab  # type: ignore[import-untyped]

DEFAULT_CRON = "0 2 * * *"  # organize_all_users: every day at 02:00 UTC
SEARCH_DAYS = 366 * 8  # long enough for "29 Feb on a Monday"
_MONDAY = datetime(2024, 1, 1)  # a leap year's 1 January, a Monday


def _values(spec: str) -> tuple[list[int], list[int], set[int], set[int], set[int]]:
    """Minutes, hours, days, months and weekdays (0 = Sunday) a spec matches; ValueError when
    Huey cannot read it."""
    fields = spec.split()
    if len(fields) != 5:
        raise ValueError(f"expected 5 cron fields, got {spec!r}")
    minute, hour, day, month, weekday = fields
    test = {
        "minute": crontab(minute=minute, strict=True),
        "hour": crontab(hour=hour, strict=True),
        "day": crontab(day=day, strict=True),
        "month": crontab(month=month, strict=True),
        "day_of_week": crontab(day_of_week=weekday, strict=True),
    }
    minutes = [n for n in range(60) if test["minute"](_MONDAY.replace(minute=n))]
    hours = [n for n in range(24) if test["hour"](_MONDAY.replace(hour=n))]
    days = {n for n in range(1, 32) if test["day"](_MONDAY.replace(day=n))}
    months = {n for n in range(1, 13) if test["month"](_MONDAY.replace(month=n))}
    # _MONDAY + n days is weekday (n + 1) % 7 in Huey's numbering (Sunday 0).
    weekdays = {(n + 1) % 7 for n in range(7) if test["day_of_week"](_MONDAY + timedelta(days=n))}
    return minutes, hours, days, months, weekdays


def next_fire(spec: str, after: datetime) -> datetime | None:
    """The first minute strictly after `after` (aware) at which `spec` fires, in UTC; None when
    it never does (e.g. 31 February)."""
    minutes, hours, days, months, weekdays = _values(spec)
    start = after.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    day = start.replace(hour=0, minute=0)
    for _ in range(SEARCH_DAYS):
        weekday = (day.weekday() + 1) % 7
        if day.month in months and day.day in days and weekday in weekdays:
            for hour in hours:
                for minute in minutes:
                    at = day.replace(hour=hour, minute=minute)
                    if at >= start:
                        return at
        day += timedelta(days=1)
    return None
