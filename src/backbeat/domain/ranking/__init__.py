"""The song ranker: sessions of songs (one release per recording), pairwise duels (win, tie,
skip, undo), and a Bradley–Terry ranking with a convergence a user can read.

    catalog = SongCatalog(database, stack.spotify)
    ranking = RankingService(database, clock)
    session_id = await ranking.create_session(user_id, "Radiohead", [], artist_spotify_id)
    async for album in catalog.walk_artist(artist_spotify_id):
        await ranking.add_songs(session_id, album.song_ids)
    a, b = await ranking.next_pair(user_id, session_id)
    await ranking.record_duel(user_id, session_id, a.id, b.id, "a")
    await ranking.recompute(session_id)  # on the default queue, every few duels
"""

from backbeat.domain.ranking.catalog import AlbumSongs, SongCatalog, song_values
from backbeat.domain.ranking.convergence import convergence, progress, target_duels
from backbeat.domain.ranking.dedup import (
    RecordingSet,
    Release,
    dedupe,
    dedupe_by,
    normalize_title,
    same_recording,
    song_release,
    track_release,
)
from backbeat.domain.ranking.duels import OUTCOMES, DuelOutcome
from backbeat.domain.ranking.model import (
    Duel,
    Fit,
    RankedSong,
    bradley_terry,
    comparison_matrix,
    default_alpha,
    fit,
    next_pair,
)
from backbeat.domain.ranking.service import RankingService
from backbeat.domain.ranking.views import (
    DuelRecord,
    RankingEntry,
    SessionSummary,
    SessionView,
    SongView,
)

__all__ = [
    "OUTCOMES",
    "AlbumSongs",
    "Duel",
    "DuelOutcome",
    "DuelRecord",
    "Fit",
    "RankedSong",
    "RankingEntry",
    "RankingService",
    "RecordingSet",
    "Release",
    "SessionSummary",
    "SessionView",
    "SongCatalog",
    "SongView",
    "bradley_terry",
    "comparison_matrix",
    "convergence",
    "dedupe",
    "dedupe_by",
    "default_alpha",
    "fit",
    "next_pair",
    "normalize_title",
    "progress",
    "same_recording",
    "song_release",
    "song_values",
    "target_duels",
    "track_release",
]
