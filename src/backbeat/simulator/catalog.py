"""A deterministic synthetic music catalog: the same seed gives the same artists, albums and tracks.

Albums sometimes come again as deluxe or remastered editions whose tracks repeat the original ISRCs,
as on Spotify, so deduplication by ISRC can be exercised. Every track records its title's language.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass

from backbeat.simulator.languages import BY_CODE, LANGUAGES, Language

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def spotify_id(rng: random.Random) -> str:
    """22 base-62 characters, the shape of a Spotify ID."""
    return encode_base62(rng.getrandbits(131), 22)


def encode_base62(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        chars.append(_BASE62[digit])
    return "".join(reversed(chars))


def decode_base62(text: str) -> int:
    number = 0
    for char in text:
        number = number * 62 + _BASE62.index(char)
    return number


def is_spotify_id(text: str) -> bool:
    return len(text) == 22 and all(char in _BASE62 for char in text)


@dataclass(frozen=True, slots=True)
class Artist:
    id: str
    name: str
    genres: tuple[str, ...]
    popularity: int
    followers: int
    language: str


@dataclass(frozen=True, slots=True)
class Album:
    id: str
    name: str
    artist_ids: tuple[str, ...]
    album_type: str  # album | single | compilation
    release_date: str
    track_ids: tuple[str, ...]
    label: str
    upc: str
    popularity: int
    edition: str | None  # None for the original; "deluxe" or "remastered" for a re-issue
    original_id: str | None = None  # the album a re-issue repeats


@dataclass(frozen=True, slots=True)
class Track:
    id: str
    name: str
    album_id: str
    artist_ids: tuple[str, ...]
    track_number: int
    duration_ms: int
    explicit: bool
    popularity: int
    isrc: str
    language: str


class Catalog:
    """Artists, albums and tracks by id, plus the indexes the endpoints need."""

    def __init__(self, seed: int, artist_count: int) -> None:
        self.seed = seed
        self.artists: dict[str, Artist] = {}
        self.albums: dict[str, Album] = {}
        self.tracks: dict[str, Track] = {}
        self.artist_albums: dict[str, list[str]] = defaultdict(list)
        self.genre_artists: dict[str, list[str]] = defaultdict(list)
        self.track_ids: list[str] = []
        self.language_artists: dict[str, list[str]] = defaultdict(list)
        self._artist_tracks: dict[str, list[Track]] = {}
        _Generator(self, random.Random(seed)).run(artist_count)

    @property
    def genres(self) -> list[str]:
        return sorted(self.genre_artists)

    def artist_tracks(self, artist_id: str) -> list[Track]:
        """Tracks of the artist's original releases (no re-issues), most popular first."""
        if artist_id in self._artist_tracks:
            return self._artist_tracks[artist_id]
        tracks = [
            self.tracks[track_id]
            for album_id in self.artist_albums.get(artist_id, [])
            if self.albums[album_id].edition is None
            for track_id in self.albums[album_id].track_ids
        ]
        ranked = sorted(tracks, key=lambda track: (-track.popularity, track.id))
        self._artist_tracks[artist_id] = ranked
        return ranked


class _Generator:
    def __init__(self, catalog: Catalog, rng: random.Random) -> None:
        self.catalog = catalog
        self.rng = rng
        self.isrc_serial = 0

    def run(self, artist_count: int) -> None:
        weights = [language.weight for language in LANGUAGES]
        for _ in range(artist_count):
            language = self.rng.choices(LANGUAGES, weights)[0]
            artist = self.artist(language)
            self.catalog.artists[artist.id] = artist
            self.catalog.language_artists[language.code].append(artist.id)
            for genre in artist.genres:
                self.catalog.genre_artists[genre].append(artist.id)
            for _ in range(1 + self.rng.randrange(4)):
                self.album(artist, "album")
            for _ in range(self.rng.randrange(3)):
                self.album(artist, "single")

    def artist(self, language: Language) -> Artist:
        rng = self.rng
        if rng.random() < 0.5:
            name = f"{rng.choice(language.first_names)} {rng.choice(language.last_names)}"
        else:
            name = " ".join(word.capitalize() for word in rng.sample(language.words, 2))
        genres = rng.sample(language.genres, min(len(language.genres), 1 + rng.randrange(2)))
        popularity = int(100 * rng.betavariate(2, 3))
        return Artist(
            id=spotify_id(rng),
            name=name,
            genres=tuple(genres),
            popularity=popularity,
            followers=int(popularity**3 * (1 + rng.random()) * 10),
            language=language.code,
        )

    def title(self, language: Language) -> str:
        if self.rng.random() < 0.25:
            return self.rng.choice(language.phrases)
        words = self.rng.sample(language.words, 2 + self.rng.randrange(3))
        separator = "" if language.code == "ja" else " "
        return separator.join(word.capitalize() for word in words)

    def album(self, artist: Artist, album_type: str) -> None:
        rng = self.rng
        language = BY_CODE[artist.language]
        year = rng.randint(1975, 2026)
        date = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        count = 1 + rng.randrange(2) if album_type == "single" else 6 + rng.randrange(9)
        album_id = spotify_id(rng)
        tracks = [self.track(artist, album_id, number, language) for number in range(1, count + 1)]
        original = self.store_album(
            Album(
                id=album_id,
                name=self.title(language),
                artist_ids=(artist.id,),
                album_type=album_type,
                release_date=date,
                track_ids=tuple(track.id for track in tracks),
                label=f"{artist.name.split()[-1]} Records",
                upc=f"{rng.randrange(10**12):012d}",
                popularity=max(0, min(100, artist.popularity + rng.randint(-15, 10))),
                edition=None,
            ),
            tracks,
        )
        if album_type != "album":
            return
        if rng.random() < 0.15:
            # bonus recordings exist only on the deluxe edition, so reissue() stores them there
            bonus = [self.track(artist, "", 0, language) for _ in range(2 + rng.randrange(2))]
            self.reissue(original, tracks, "deluxe", " (Deluxe Edition)", "", bonus, date)
        if rng.random() < 0.10:
            when = f"{min(2026, year + rng.randint(5, 30))}{date[4:]}"
            self.reissue(original, tracks, "remastered", " (Remastered)", " - Remastered", [], when)

    def track(self, artist: Artist, album_id: str, number: int, language: Language) -> Track:
        rng = self.rng
        sung_in = language if rng.random() < 0.9 else BY_CODE["en"]
        featured = rng.sample(list(self.catalog.artists), 1) if rng.random() < 0.1 else []
        self.isrc_serial += 1
        return Track(
            id=spotify_id(rng),
            name=self.title(sung_in),
            album_id=album_id,
            artist_ids=(artist.id, *featured),
            track_number=number,
            duration_ms=rng.randint(120_000, 360_000),
            explicit=rng.random() < 0.15,
            popularity=max(0, min(100, artist.popularity + rng.randint(-20, 15))),
            isrc=f"QZSIM{self.catalog.seed % 100:02d}{self.isrc_serial:05d}",
            language=sung_in.code,
        )

    def reissue(
        self,
        original: Album,
        tracks: list[Track],
        edition: str,
        album_suffix: str,
        track_suffix: str,
        bonus: list[Track],
        release_date: str,
    ) -> None:
        """Same recordings (same ISRCs) under new track ids, as Spotify lists re-issues."""
        album_id = spotify_id(self.rng)
        copies = [
            Track(
                id=spotify_id(self.rng),
                name=track.name + track_suffix,
                album_id=album_id,
                artist_ids=track.artist_ids,
                track_number=number,
                duration_ms=track.duration_ms,
                explicit=track.explicit,
                popularity=max(0, track.popularity - 10),
                isrc=track.isrc,
                language=track.language,
            )
            for number, track in enumerate([*tracks, *bonus], start=1)
        ]
        self.store_album(
            Album(
                id=album_id,
                name=original.name + album_suffix,
                artist_ids=original.artist_ids,
                album_type="album",
                release_date=release_date,
                track_ids=tuple(track.id for track in copies),
                label=original.label,
                upc=f"{self.rng.randrange(10**12):012d}",
                popularity=max(0, original.popularity - 5),
                edition=edition,
                original_id=original.id,
            ),
            copies,
        )

    def store_album(self, album: Album, tracks: list[Track]) -> Album:
        catalog = self.catalog
        catalog.albums[album.id] = album
        catalog.artist_albums[album.artist_ids[0]].append(album.id)
        for track in tracks:
            catalog.tracks[track.id] = track
            catalog.track_ids.append(track.id)
        return album
