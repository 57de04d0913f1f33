"""Next fire times agree with Huey's own reading of a cron spec."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from huey import crontab  # type: ignore[import-untyped]

from backbeat.domain.organizer import DEFAULT_CRON, next_fire

AT = datetime(2026, 11, 2, 3, 0, 30, tzinfo=UTC)  # a Monday


def test_the_daily_default() -> None:
    assert DEFAULT_CRON == "0 2 * * *"
    assert next_fire(DEFAULT_CRON, AT) == datetime(2026, 11, 3, 2, 0, tzinfo=UTC)
    assert next_fire(DEFAULT_CRON, AT.replace(hour=1)) == datetime(2026, 11, 2, 2, tzinfo=UTC)
    # Strictly after: at 02:00:00 itself the next run is tomorrow's.
    two = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
    assert next_fire(DEFAULT_CRON, two) == two + timedelta(days=1)


def test_other_time_zones_are_read_as_the_same_instant() -> None:
    tokyo = AT.astimezone(datetime.fromisoformat("2026-01-01T00:00:00+09:00").tzinfo)
    assert next_fire(DEFAULT_CRON, tokyo) == datetime(2026, 11, 3, 2, 0, tzinfo=UTC)


def test_never_and_nonsense() -> None:
    assert next_fire("0 0 31 2 *", AT) is None
    with pytest.raises(ValueError, match="5 cron fields"):
        next_fire("0 2 * *", AT)
    with pytest.raises(ValueError, match="not a valid input"):
        next_fire("0 25 * * *", AT)
    with pytest.raises(ValueError, match="not a valid input"):
        next_fire("0 2 * * mon", AT)


def _huey_next(spec: str, after: datetime) -> datetime:
    minute, hour, day, month, weekday = spec.split()
    test = crontab(minute=minute, hour=hour, day=day, month=month, day_of_week=weekday)
    at = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while not test(at.replace(tzinfo=None)):
        at += timedelta(minutes=1)
    return at


@pytest.mark.parametrize(
    "spec",
    [
        "0 2 * * *",
        "*/30 * * * *",
        "0 9 * * 0",
        "0 3 * * 1",
        "15,45 8-17 * * 1-5",
        "0 0 1 * *",
        "30 23 28-31 * *",
        "0 12 * 2,8 6-1",  # a wrap-around weekday range
        "5 4 13 * 5",  # Friday the 13th: both day fields must match, as in Huey
        "0 0 * * 7",  # 7 is Sunday
    ],
)
def test_agrees_with_huey(spec: str) -> None:
    rng = random.Random(spec)
    for _ in range(5):
        after = AT + timedelta(minutes=rng.randrange(60 * 24 * 400))
        assert next_fire(spec, after) == _huey_next(spec, after), after
