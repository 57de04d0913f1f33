"""The library organizer: liked songs sorted into per-language and per-genre playlists by a
daily, incremental scan that never skips a song after a failure (ARCHITECTURE §7)."""

from backbeat.domain.organizer.cron import DEFAULT_CRON, next_fire
from backbeat.domain.organizer.groups import Group, group_tracks, primary_genre
from backbeat.domain.organizer.language import (
    DEFAULT_LANGUAGES,
    MIN_CONFIDENCE,
    TrackLanguage,
    TrackText,
    clean_title,
    detector_for,
    language_name,
)
from backbeat.domain.organizer.plan import (
    CallsPerUser,
    ClassPlan,
    FanOutPlan,
    estimate_calls,
    estimate_ingest_calls,
    fan_out_plan,
)
from backbeat.domain.organizer.playlists import Calls
from backbeat.domain.organizer.scan import DEVELOPMENT_NOTE, OrganizerScan, ScanResult
from backbeat.domain.organizer.settings import (
    OrganizerSettings,
    enabled_user_ids,
    get_settings,
    parse_settings,
    put_settings,
)
from backbeat.domain.organizer.status import OrganizerStatus, PlaylistStatus, status

__all__ = [
    "DEFAULT_CRON",
    "DEFAULT_LANGUAGES",
    "DEVELOPMENT_NOTE",
    "MIN_CONFIDENCE",
    "Calls",
    "CallsPerUser",
    "ClassPlan",
    "FanOutPlan",
    "Group",
    "OrganizerScan",
    "OrganizerSettings",
    "OrganizerStatus",
    "PlaylistStatus",
    "ScanResult",
    "TrackLanguage",
    "TrackText",
    "clean_title",
    "detector_for",
    "enabled_user_ids",
    "estimate_calls",
    "estimate_ingest_calls",
    "fan_out_plan",
    "get_settings",
    "group_tracks",
    "language_name",
    "next_fire",
    "parse_settings",
    "primary_genre",
    "put_settings",
    "status",
]
