"""Initial schema: every table of ARCHITECTURE §6.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 19:57:40.720365
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The models' column types in plain SQLAlchemy: `UTCDateTime` and `EncryptedText` only
# convert values in Python; JSON is JSONB on Postgres.
TIMESTAMP = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
# At most one active job per dedupe key (finished jobs keep theirs).
ACTIVE_JOB = sa.text("status IN ('queued', 'running', 'retrying', 'deferred')")


def upgrade() -> None:
    op.create_table(
        "artist_leaderboards",
        sa.Column("artist_spotify_id", sa.String(length=64), nullable=False),
        sa.Column("artist_name", sa.String(length=512), nullable=False),
        sa.Column("session_count", sa.Integer(), nullable=False),
        sa.Column("comparison_count", sa.Integer(), nullable=False),
        sa.Column("convergence", sa.Float()),
        sa.Column("computed_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("artist_spotify_id", name=op.f("pk_artist_leaderboards")),
    )
    op.create_table(
        "songs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("spotify_id", sa.String(length=64), nullable=False),
        sa.Column("isrc", sa.String(length=16)),
        sa.Column("title", sa.String(length=512), nullable=False),
        sa.Column("normalized_title", sa.String(length=512), nullable=False),
        sa.Column("artist_spotify_id", sa.String(length=64), nullable=False),
        sa.Column("artist_name", sa.String(length=512), nullable=False),
        sa.Column("album_spotify_id", sa.String(length=64)),
        sa.Column("album_name", sa.String(length=512)),
        sa.Column("release_date", sa.String(length=10)),
        sa.Column("duration_ms", sa.Integer()),
        sa.Column("image_url", sa.String(length=1024)),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_songs")),
        sa.UniqueConstraint("spotify_id", name=op.f("uq_songs_spotify_id")),
    )
    op.create_index(
        "ix_songs_artist_spotify_id_normalized_title",
        "songs",
        ["artist_spotify_id", "normalized_title"],
    )
    op.create_index("ix_songs_isrc", "songs", ["isrc"])
    op.create_table(
        "users",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("spotify_id", sa.String(length=255), nullable=False),
        sa.Column("display_name", sa.String(length=255)),
        sa.Column("email", sa.String(length=320)),
        sa.Column("country", sa.String(length=2)),
        sa.Column("product", sa.String(length=32)),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("spotify_id", name=op.f("uq_users_spotify_id")),
    )
    op.create_table(
        "artist_leaderboard_entries",
        sa.Column("artist_spotify_id", sa.String(length=64), nullable=False),
        sa.Column("song_id", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("comparison_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["artist_spotify_id"],
            ["artist_leaderboards.artist_spotify_id"],
            name=op.f("fk_artist_leaderboard_entries_artist_spotify_id"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["song_id"],
            ["songs.id"],
            name=op.f("fk_artist_leaderboard_entries_song_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "artist_spotify_id", "song_id", name=op.f("pk_artist_leaderboard_entries")
        ),
    )
    op.create_index(
        "ix_artist_leaderboard_entries_artist_spotify_id_rank",
        "artist_leaderboard_entries",
        ["artist_spotify_id", "rank"],
    )
    op.create_index(
        "ix_artist_leaderboard_entries_song_id", "artist_leaderboard_entries", ["song_id"]
    )
    op.create_table(
        "background_jobs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("queue", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=36)),
        sa.Column("dedupe_key", sa.String(length=255)),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.SmallInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("result", JSON),
        sa.Column("error", sa.Text()),
        sa.Column("run_at", TIMESTAMP, nullable=False),
        sa.Column("enqueued_at", TIMESTAMP, nullable=False),
        sa.Column("started_at", TIMESTAMP),
        sa.Column("heartbeat_at", TIMESTAMP),
        sa.Column("finished_at", TIMESTAMP),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed', 'retrying', 'deferred')",
            name=op.f("ck_background_jobs_status"),
        ),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_background_jobs_attempts")),
        sa.CheckConstraint("max_attempts >= 1", name=op.f("ck_background_jobs_max_attempts")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_background_jobs_user_id"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_background_jobs")),
    )
    op.create_index(
        "ix_background_jobs_status_finished_at", "background_jobs", ["status", "finished_at"]
    )
    op.create_index(
        "ix_background_jobs_status_heartbeat_at", "background_jobs", ["status", "heartbeat_at"]
    )
    op.create_index("ix_background_jobs_status_run_at", "background_jobs", ["status", "run_at"])
    op.create_index("ix_background_jobs_user_id_kind", "background_jobs", ["user_id", "kind"])
    op.create_index(
        "uq_background_jobs_active_dedupe_key",
        "background_jobs",
        ["dedupe_key"],
        unique=True,
        postgresql_where=ACTIVE_JOB,
        sqlite_where=ACTIVE_JOB,
    )
    op.create_table(
        "listening_snapshots",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("snapshot_date", sa.Date(), nullable=False),
        sa.Column("time_range", sa.String(length=16), nullable=False),
        sa.Column("track_count", sa.Integer(), nullable=False),
        sa.Column("top_track_ids", JSON, nullable=False),
        sa.Column("top_artist_ids", JSON, nullable=False),
        sa.Column("genres", JSON, nullable=False),
        sa.Column("audio_features", JSON, nullable=False),
        sa.Column("features_source", sa.String(length=16)),
        sa.Column("mood_patterns", JSON, nullable=False),
        sa.Column("genre_diversity", sa.Float()),
        sa.Column("artist_diversity", sa.Float()),
        sa.Column("mood_diversity", sa.Float()),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "time_range IN ('short_term', 'medium_term', 'long_term')",
            name=op.f("ck_listening_snapshots_time_range"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_listening_snapshots_user_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_listening_snapshots")),
        sa.UniqueConstraint(
            "user_id",
            "snapshot_date",
            "time_range",
            name=op.f("uq_listening_snapshots_user_id_snapshot_date_time_range"),
        ),
    )
    op.create_table(
        "organizer_playlists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("group_kind", sa.String(length=16), nullable=False),
        sa.Column("group_key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("spotify_playlist_id", sa.String(length=64)),
        sa.Column("track_count", sa.Integer(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "group_kind IN ('language', 'genre')", name=op.f("ck_organizer_playlists_group_kind")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_organizer_playlists_user_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organizer_playlists")),
        sa.UniqueConstraint(
            "spotify_playlist_id", name=op.f("uq_organizer_playlists_spotify_playlist_id")
        ),
        sa.UniqueConstraint(
            "user_id",
            "group_kind",
            "group_key",
            name=op.f("uq_organizer_playlists_user_id_group_kind_group_key"),
        ),
    )
    op.create_table(
        "organizer_scan_states",
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("cursor_added_at", TIMESTAMP),
        sa.Column("scanned_total", sa.Integer(), nullable=False),
        sa.Column("sorted_total", sa.Integer(), nullable=False),
        sa.Column("last_scan_count", sa.Integer(), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text()),
        sa.Column("last_started_at", TIMESTAMP),
        sa.Column("last_finished_at", TIMESTAMP),
        sa.Column("last_succeeded_at", TIMESTAMP),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "status IN ('idle', 'running', 'failed')", name=op.f("ck_organizer_scan_states_status")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_organizer_scan_states_user_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_organizer_scan_states")),
    )
    op.create_table(
        "ranking_sessions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("artist_spotify_id", sa.String(length=64)),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("comparison_count", sa.Integer(), nullable=False),
        sa.Column("convergence", sa.Float()),
        sa.Column("ranked_at", TIMESTAMP),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'completed', 'archived')", name=op.f("ck_ranking_sessions_status")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_ranking_sessions_user_id"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ranking_sessions")),
    )
    op.create_index(
        "ix_ranking_sessions_user_id_created_at", "ranking_sessions", ["user_id", "created_at"]
    )
    op.create_table(
        "spotify_tokens",
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("access_token", sa.Text(), nullable=False),
        sa.Column("refresh_token", sa.Text(), nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.Column("scopes", JSON, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_spotify_tokens_user_id"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_spotify_tokens")),
    )
    op.create_index("ix_spotify_tokens_expires_at", "spotify_tokens", ["expires_at"])
    op.create_table(
        "generated_insights",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("snapshot_id", sa.String(length=36)),
        sa.Column("insight_type", sa.String(length=32), nullable=False),
        sa.Column("tone", sa.String(length=32), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=128), nullable=False),
        sa.Column("prompt_version", sa.String(length=32), nullable=False),
        sa.Column("content", JSON, nullable=False),
        sa.Column("generation_ms", sa.Integer()),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["snapshot_id"],
            ["listening_snapshots.id"],
            name=op.f("fk_generated_insights_snapshot_id"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_generated_insights_user_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_generated_insights")),
    )
    op.create_index("ix_generated_insights_snapshot_id", "generated_insights", ["snapshot_id"])
    op.create_index(
        "ix_generated_insights_user_id_created_at", "generated_insights", ["user_id", "created_at"]
    )
    op.create_table(
        "organizer_playlist_tracks",
        sa.Column("playlist_id", sa.Integer(), nullable=False),
        sa.Column("spotify_track_id", sa.String(length=64), nullable=False),
        sa.Column("added_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["playlist_id"],
            ["organizer_playlists.id"],
            name=op.f("fk_organizer_playlist_tracks_playlist_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "playlist_id", "spotify_track_id", name=op.f("pk_organizer_playlist_tracks")
        ),
    )
    op.create_table(
        "session_songs",
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("song_id", sa.Integer(), nullable=False),
        sa.Column("added_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["ranking_sessions.id"],
            name=op.f("fk_session_songs_session_id"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["song_id"], ["songs.id"], name=op.f("fk_session_songs_song_id"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("session_id", "song_id", name=op.f("pk_session_songs")),
    )
    op.create_index("ix_session_songs_song_id", "session_songs", ["song_id"])
    op.create_table(
        "comparisons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("winner_id", sa.Integer(), nullable=False),
        sa.Column("loser_id", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=8), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("undone_at", TIMESTAMP),
        sa.CheckConstraint(
            "outcome IN ('win', 'tie', 'skip')", name=op.f("ck_comparisons_outcome")
        ),
        sa.CheckConstraint("winner_id <> loser_id", name=op.f("ck_comparisons_distinct_songs")),
        sa.ForeignKeyConstraint(
            ["session_id", "loser_id"],
            ["session_songs.session_id", "session_songs.song_id"],
            name="fk_comparisons_loser",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id", "winner_id"],
            ["session_songs.session_id", "session_songs.song_id"],
            name="fk_comparisons_winner",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comparisons")),
    )
    op.create_index(
        "ix_comparisons_session_id_created_at", "comparisons", ["session_id", "created_at"]
    )
    op.create_table(
        "session_rankings",
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("song_id", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("wins", sa.Integer(), nullable=False),
        sa.Column("losses", sa.Integer(), nullable=False),
        sa.Column("ties", sa.Integer(), nullable=False),
        sa.Column("computed_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id", "song_id"],
            ["session_songs.session_id", "session_songs.song_id"],
            name="fk_session_rankings_session_song",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", "song_id", name=op.f("pk_session_rankings")),
    )


def downgrade() -> None:
    for name in [
        "session_rankings",
        "comparisons",
        "session_songs",
        "organizer_playlist_tracks",
        "generated_insights",
        "spotify_tokens",
        "ranking_sessions",
        "organizer_scan_states",
        "organizer_playlists",
        "listening_snapshots",
        "background_jobs",
        "artist_leaderboard_entries",
        "users",
        "songs",
        "artist_leaderboards",
    ]:
        op.drop_table(name)
