"""Which playlists a liked song belongs in: one per language and one per genre (pure).

Genre: the primary (first-listed) artist's first genre. One genre per song keeps each song in at
most one genre playlist and the number of playlists near the number of genres a user likes;
every genre of every artist would put a song in up to a dozen lists. Spotify lists an artist's
genres in its own order, which is as good a guess of the main one as any. Songs whose primary
artist has no genre get no genre playlist; songs of unsure language get no language playlist.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import cast

from backbeat.db.models import OrganizerPlaylist
from backbeat.domain.organizer.language import language_name
from backbeat.domain.organizer.settings import GroupKind
from backbeat.spotify import models as m

MAX_KEY = 64  # organizer_playlists.group_key


@dataclass(frozen=True, order=True, slots=True)
class Group:
    kind: GroupKind
    key: str  # ISO 639-1 code or genre name

    @property
    def display_name(self) -> str:
        """What `{name}` stands for in a playlist name: "Spanish", "latin pop"."""
        return language_name(self.key) if self.kind == "language" else self.key


def group_of(row: OrganizerPlaylist) -> Group:
    return Group(cast(GroupKind, row.group_kind), row.group_key)  # the CHECK holds it to these


def primary_artist_ids(tracks: Sequence[m.Track]) -> list[str]:
    """The primary artist of each track, once each, for one batched look-up."""
    return list(dict.fromkeys(track.artists[0].id for track in tracks if track.artists))


def primary_genre(track: m.Track, artists: Mapping[str, m.Artist]) -> str | None:
    if not track.artists:
        return None
    artist = artists.get(track.artists[0].id)
    if artist is None or not artist.genres:
        return None
    return artist.genres[0].strip()[:MAX_KEY] or None


def group_tracks(
    tracks: Sequence[m.Track],
    *,
    kinds: Sequence[GroupKind],
    languages: Mapping[str, str | None],
    artists: Mapping[str, m.Artist],
) -> dict[Group, list[m.Track]]:
    """Each kind's group of every track, tracks in the order given (callers pass them oldest
    first, so playlists grow in the order songs were liked)."""
    groups: dict[Group, list[m.Track]] = {}
    for track in tracks:
        keys: list[Group] = []
        if "language" in kinds and (code := languages.get(track.id)) is not None:
            keys.append(Group("language", code))
        if "genre" in kinds and (genre := primary_genre(track, artists)) is not None:
            keys.append(Group("genre", genre))
        for group in keys:
            groups.setdefault(group, []).append(track)
    return dict(sorted(groups.items()))
