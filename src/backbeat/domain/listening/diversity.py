"""Diversity as normalized Shannon entropy, each score named for the distribution it measures.

The app this replaces stored genre entropy as "mood diversity"; here genre, artist and mood
diversity each come from their own distribution:

- genre diversity: genres over the snapshot's tracks. A track counts once for each genre of any
  of its artists (a genre shared by two of its artists counts once), so the distribution follows
  what the user plays, not how many genres Spotify tags an artist with.
- artist diversity: tracks over their primary (first-listed) artist.
- mood diversity: tracks over the four mood quadrants.

Normalized means H / log(k). For moods k is the four quadrants, fixed, so a user in two moods
scores 0.5. Genres and artists have no fixed universe, so k is the number of distinct values
observed: the score says how evenly listening spreads over the genres/artists the user has
(Pielou's evenness), not how many there are — 25 tracks each by two artists scores 1.0, like 50
tracks by 50 artists. Read it together with how many there are (a snapshot's `genres` holds
every genre with its count).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping

from backbeat.domain.listening.moods import Mood, MoodPatterns
from backbeat.spotify.models import Artist, TrackRef

MIN_ITEMS = 2  # one item has no spread to measure
TOP_GENRES = 10


def normalized_entropy(counts: Iterable[int], categories: int | None = None) -> float | None:
    """H / log(k) of the distribution `counts` in [0, 1], with k = `categories` (the categories
    that could occur) or, when None, the number of non-empty counts.

    None with fewer than `MIN_ITEMS` items. Everything in one category is 0.0, not None: that
    is the least diverse listening there is, whatever k would be.
    """
    observed = [c for c in counts if c]
    if any(c < 0 for c in observed):
        raise ValueError("counts cannot be negative")
    k = len(observed) if categories is None else categories
    if k < len(observed):
        raise ValueError(f"{len(observed)} categories observed, but only {k} could occur")
    total = sum(observed)
    if total < MIN_ITEMS:
        return None
    if len(observed) == 1:
        return 0.0
    # Sorted and fsum'd: the same counts in any order give the same bits.
    entropy = -math.fsum(c / total * math.log(c / total) for c in sorted(observed))
    return min(1.0, max(0.0, entropy / math.log(k)))


def genre_counts(tracks: Iterable[TrackRef], artists: Mapping[str, Artist]) -> Counter[str]:
    """Tracks per genre, from the genres of each track's artists (`artists` by id; artists
    missing from it contribute no genres)."""
    counts: Counter[str] = Counter()
    for track in tracks:
        genres = {g for ref in track.artists if ref.id in artists for g in artists[ref.id].genres}
        counts.update(genres)
    return counts


def top_genres(counts: Mapping[str, int], n: int = TOP_GENRES) -> dict[str, int]:
    """The `n` most frequent genres, most frequent first, ties by name (stable across runs)."""
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return dict(ranked[:n])


def artist_counts(tracks: Iterable[TrackRef]) -> Counter[str]:
    """Tracks per primary artist id; tracks without artists are left out."""
    return Counter(track.artists[0].id for track in tracks if track.artists)


def genre_diversity(counts: Mapping[str, int]) -> float | None:
    """Evenness of `genre_counts` over the genres observed."""
    return normalized_entropy(counts.values())


def artist_diversity(tracks: Iterable[TrackRef]) -> float | None:
    """Evenness of tracks over the primary artists observed."""
    return normalized_entropy(artist_counts(tracks).values())


def mood_diversity(moods: MoodPatterns) -> float | None:
    """Entropy of tracks over the four quadrants, normalized by log 4."""
    return normalized_entropy(moods.counts.values(), categories=len(Mood))
