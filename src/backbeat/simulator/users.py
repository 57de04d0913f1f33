"""Simulated Spotify users, generated on demand from (seed, index): thousands cost nothing upfront.

Each user has a taste (a few languages, favourite artists) from which top items per time range,
recently played, liked songs and a few playlists follow. Histories end at `HISTORY_END`, a fixed
instant, so the same seed always gives the same data.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from backbeat.simulator.catalog import Catalog
from backbeat.simulator.languages import BY_CODE, LANGUAGES

TIME_RANGES = ("short_term", "medium_term", "long_term")
HISTORY_END = datetime(2026, 11, 1, tzinfo=UTC)
_COUNTRIES = {"en": "US", "es": "ES", "fr": "FR", "de": "DE", "pt": "BR", "it": "IT", "ja": "JP",
              "ko": "KR"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Dated:
    """A track with the moment it was liked, played or added."""

    track_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class GeneratedPlaylist:
    name: str
    description: str
    public: bool
    items: tuple[Dated, ...]


@dataclass(frozen=True, slots=True)
class UserProfile:
    id: str
    index: int
    display_name: str
    country: str
    product: str
    followers: int
    languages: tuple[str, ...]
    top_artists: dict[str, tuple[str, ...]]
    top_tracks: dict[str, tuple[str, ...]]
    recently_played: tuple[Dated, ...]  # newest first
    liked: tuple[Dated, ...]  # newest first, as /me/tracks lists them
    playlists: tuple[GeneratedPlaylist, ...]

    @property
    def email(self) -> str:
        return f"{self.id}@users.sim.invalid"


class Users:
    """The directory of simulated users: `user0000` … `userNNNN`."""

    def __init__(self, catalog: Catalog, count: int, *, zipf: float | None = None) -> None:
        self.catalog = catalog
        self.count = count
        self.zipf = zipf
        self._width = max(4, len(str(count - 1)))
        self.profile = lru_cache(maxsize=4096)(self._generate)

    def user_id(self, index: int) -> str:
        return f"user{index:0{self._width}d}"

    def index_of(self, user_id: str) -> int | None:
        digits = user_id.removeprefix("user")
        if len(digits) != self._width or not digits.isdigit() or int(digits) >= self.count:
            return None
        return int(digits)

    def has_user(self, user_id: str) -> bool:
        return self.index_of(user_id) is not None

    @property
    def default_user_id(self) -> str:
        return self.user_id(0)

    def get(self, user_id: str) -> UserProfile | None:
        index = self.index_of(user_id)
        return None if index is None else self.profile(index)

    def _generate(self, index: int) -> UserProfile:
        rng = random.Random(f"{self.catalog.seed}:user:{index}")
        return _Taste(self.catalog, rng, self.zipf).profile(self.user_id(index), index)


class _Taste:
    def __init__(self, catalog: Catalog, rng: random.Random, zipf: float | None = None) -> None:
        self.catalog = catalog
        self.rng = rng
        self.zipf = zipf

    def profile(self, user_id: str, index: int) -> UserProfile:
        rng = self.rng
        primary = rng.choices(LANGUAGES, [language.weight for language in LANGUAGES])[0].code
        languages = (primary,) if primary == "en" or rng.random() < 0.4 else (primary, "en")
        favourites = self.favourite_artists(languages)
        top_artists = {
            time_range: tuple(self.drift(favourites, share)[:50])
            for time_range, share in zip(TIME_RANGES, (0.5, 0.25, 0.0), strict=True)
        }
        top_tracks = {
            time_range: tuple(self.tracks_of(artists, 50)) for time_range, artists in
            top_artists.items()
        }  # fmt: skip
        liked = self.dated(self.tracks_of(favourites, self.liked_count()), spread_hours=60)
        recent = self.dated(list(top_tracks["short_term"]) * 2, spread_hours=0.07)[:50]
        return UserProfile(
            id=user_id,
            index=index,
            display_name=f"{rng.choice(BY_CODE[primary].first_names)} {user_id[-3:]}",
            country=_COUNTRIES[primary],
            product="premium" if rng.random() < 0.6 else "free",
            followers=int(rng.expovariate(1 / 40)),
            languages=languages,
            top_artists=top_artists,
            top_tracks=top_tracks,
            recently_played=tuple(recent),
            liked=tuple(liked),
            playlists=tuple(self.playlists(liked)),
        )

    def favourite_artists(self, languages: tuple[str, ...]) -> list[str]:
        pool = [a for code in languages for a in self.catalog.language_artists.get(code, [])]
        pool = pool or list(self.catalog.artists)
        if self.zipf is None:
            weights = [float(self.catalog.artists[a].popularity + 5) for a in pool]
        else:
            pool.sort(key=lambda a: (-self.catalog.artists[a].popularity, a))
            weights = [1 / (rank + 1) ** self.zipf for rank in range(len(pool))]
        chosen = dict.fromkeys(self.rng.choices(pool, weights, k=60))
        return list(chosen)[:50]

    def drift(self, artists: list[str], share: float) -> list[str]:
        """Recent tastes differ from long-term ones: swap a share of neighbours."""
        drifted = list(artists)
        for _ in range(int(len(drifted) * share)):
            i = self.rng.randrange(len(drifted))
            j = min(len(drifted) - 1, i + self.rng.randint(1, 8))
            drifted[i], drifted[j] = drifted[j], drifted[i]
        return drifted

    def tracks_of(self, artists: list[str] | tuple[str, ...], count: int) -> list[str]:
        picked: dict[str, None] = {}
        for _ in range(count * 3):
            if len(picked) >= count or not artists:
                break
            tracks = self.catalog.artist_tracks(self.rng.choice(artists))
            if tracks:
                picked[tracks[min(len(tracks) - 1, int(self.rng.expovariate(0.3)))].id] = None
        return list(picked)

    def liked_count(self) -> int:
        return max(5, min(1500, int(self.rng.lognormvariate(4.8, 0.8))))

    def dated(self, track_ids: list[str], spread_hours: float) -> list[Dated]:
        at = HISTORY_END - timedelta(hours=self.rng.uniform(0.5, 3))
        dated = []
        for track_id in track_ids:
            dated.append(Dated(track_id, at.replace(microsecond=0)))
            at -= timedelta(hours=self.rng.uniform(0.3, 1.7) * spread_hours, minutes=3)
        return dated

    def playlists(self, liked: list[Dated]) -> list[GeneratedPlaylist]:
        result = []
        for number in range(self.rng.randrange(4)):
            size = min(len(liked), self.rng.randint(10, 40))
            items = sorted(self.rng.sample(liked, size), key=lambda item: item.at)
            result.append(
                GeneratedPlaylist(f"Mix {number + 1}", "Made in the simulator", True, tuple(items))
            )
        return result
