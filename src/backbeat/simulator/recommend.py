"""Recommendations from seeds: tracks of artists who share the seeds' genres, deterministically."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from backbeat.simulator.catalog import Catalog, Track

FEATURES = ("acousticness", "danceability", "energy", "instrumentalness", "liveness", "loudness",
            "speechiness", "tempo", "valence", "popularity")  # fmt: skip


@dataclass(frozen=True)
class Seeds:
    artists: tuple[str, ...]
    tracks: tuple[str, ...]
    genres: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.artists) + len(self.tracks) + len(self.genres)


@dataclass(frozen=True)
class Recommendation:
    tracks: list[Track]
    pool_by_seed: dict[tuple[str, str], int]  # (type, id) -> pool size that seed contributed


def recommend(
    catalog: Catalog,
    seeds: Seeds,
    limit: int,
    bounds: Mapping[str, tuple[float | None, float | None]],
    features_of: Callable[[Track], Mapping[str, float]],
) -> Recommendation:
    """Up to `limit` tracks near the seeds whose features lie within `bounds` (min, max)."""
    pools: dict[tuple[str, str], list[str]] = {}
    seed_artist_ids = set(seeds.artists)
    for track_id in seeds.tracks:
        seed_artist_ids.update(catalog.tracks[track_id].artist_ids)
    for artist_id in seeds.artists:
        pools[("ARTIST", artist_id)] = _genre_artists(catalog, catalog.artists[artist_id].genres)
    for track_id in seeds.tracks:
        genres = [g for a in catalog.tracks[track_id].artist_ids for g in catalog.artists[a].genres]
        pools[("TRACK", track_id)] = _genre_artists(catalog, genres)
    for genre in seeds.genres:
        pools[("GENRE", genre)] = list(catalog.genre_artists.get(genre, []))

    candidates: dict[str, Track] = {}
    for artist_ids in pools.values():
        for artist_id in artist_ids:
            for track in catalog.artist_tracks(artist_id)[:5]:
                candidates[track.id] = track
    for track_id in seeds.tracks:
        candidates.pop(track_id, None)

    def within(track: Track) -> bool:
        values = features_of(track)
        return all(
            (low is None or values[name] >= low) and (high is None or values[name] <= high)
            for name, (low, high) in bounds.items()
        )

    ordered = sorted(candidates.values(), key=lambda t: t.id)
    random.Random(repr(seeds)).shuffle(ordered)
    chosen = [t for t in ordered if within(t)][:limit]
    return Recommendation(chosen, {seed: len(pool) for seed, pool in pools.items()})


def _genre_artists(catalog: Catalog, genres: list[str] | tuple[str, ...]) -> list[str]:
    return list(dict.fromkeys(a for g in genres for a in catalog.genre_artists.get(g, [])))
