"""Every table of backbeat, on one `Base.metadata` (what Alembic compares migrations with)."""

from backbeat.db.models.base import NAMING_CONVENTION, Base
from backbeat.db.models.jobs import (
    ACTIVE_JOB_STATUSES,
    FINISHED_JOB_STATUSES,
    JOB_STATUSES,
    BackgroundJob,
)
from backbeat.db.models.listening import TIME_RANGES, GeneratedInsight, ListeningSnapshot
from backbeat.db.models.organizer import (
    DEFAULT_NAME_PATTERN,
    GROUP_KINDS,
    SCAN_STATUSES,
    OrganizerPlaylist,
    OrganizerPlaylistTrack,
    OrganizerScanState,
)
from backbeat.db.models.ranking import (
    OUTCOMES,
    SESSION_STATUSES,
    ArtistLeaderboard,
    ArtistLeaderboardEntry,
    Comparison,
    RankingSession,
    SessionRanking,
    SessionSong,
    Song,
)
from backbeat.db.models.types import JSONType, NaiveDatetimeError, UTCDateTime, new_id, utcnow
from backbeat.db.models.users import SESSION_KINDS, AppSession, SpotifyToken, User

__all__ = [
    "ACTIVE_JOB_STATUSES",
    "DEFAULT_NAME_PATTERN",
    "FINISHED_JOB_STATUSES",
    "GROUP_KINDS",
    "JOB_STATUSES",
    "NAMING_CONVENTION",
    "OUTCOMES",
    "SCAN_STATUSES",
    "SESSION_KINDS",
    "SESSION_STATUSES",
    "TIME_RANGES",
    "AppSession",
    "ArtistLeaderboard",
    "ArtistLeaderboardEntry",
    "BackgroundJob",
    "Base",
    "Comparison",
    "GeneratedInsight",
    "JSONType",
    "ListeningSnapshot",
    "NaiveDatetimeError",
    "OrganizerPlaylist",
    "OrganizerPlaylistTrack",
    "OrganizerScanState",
    "RankingSession",
    "SessionRanking",
    "SessionSong",
    "Song",
    "SpotifyToken",
    "UTCDateTime",
    "User",
    "new_id",
    "utcnow",
]
