"""Search over the catalog: free words plus Spotify's field filters (artist:, album:, track:, year:,
genre:, isrc:, upc:), matched case- and accent-insensitively, most popular first."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from backbeat.simulator.catalog import Catalog

SEARCH_TYPES = ("album", "artist", "playlist", "track", "show", "episode", "audiobook")
_TERM = re.compile(r'(\w+):"([^"]*)"|(\w+):(\S+)|"([^"]*)"|(\S+)')
_FIELDS = {"artist", "album", "track", "year", "genre", "isrc", "upc", "tag"}


def fold(text: str) -> str:
    """Lower case without accents, so `Mañana` matches `manana`."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


@dataclass
class Query:
    words: list[str] = field(default_factory=list)
    filters: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> Query:
        query = cls()
        for match in _TERM.finditer(text):
            name = match.group(1) or match.group(3)
            value = match.group(2) if match.group(1) else match.group(4)
            if name and name.lower() in _FIELDS:
                query.filters[name.lower()] = fold(value or "")
            else:
                query.words.append(fold(match.group(0).strip('"')))
        return query


def _year_matches(date: str, wanted: str) -> bool:
    first, _, last = wanted.partition("-")
    try:
        return int(first) <= int(date[:4]) <= int(last or first)
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class _Row:
    """One searchable entity with its text folded once, so a query is plain substring tests."""

    id: str
    popularity: int
    name: str
    artists: str
    album: str
    genres: tuple[str, ...]
    date: str
    code: str  # ISRC of a track, UPC of an album
    text: str  # what free words are matched against


class SearchIndex:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.find = lru_cache(maxsize=2048)(self._find)
        self._rows: dict[str, list[_Row]] = {}

    def _find(self, kind: str, text: str) -> tuple[str, ...]:
        if kind not in ("track", "album", "artist"):
            return ()
        query = Query.parse(text)
        if set(query.filters) - _FILTERS[kind]:
            return ()  # a filter this type cannot have matches nothing, as on Spotify
        hits = list(filter(_predicate(query), self.rows(kind)))
        hits.sort(key=lambda row: (-row.popularity, row.id))
        return tuple(row.id for row in hits)

    def rows(self, kind: str) -> list[_Row]:
        if kind not in self._rows:
            self._rows[kind] = list(self._build(kind))
        return self._rows[kind]

    def _build(self, kind: str) -> Iterable[_Row]:
        catalog = self.catalog

        def artists_of(ids: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
            names = " ".join(fold(catalog.artists[a].name) for a in ids)
            genres = tuple(fold(g) for a in ids for g in catalog.artists[a].genres)
            return names, genres

        if kind == "track":
            for track in catalog.tracks.values():
                album = catalog.albums[track.album_id]
                names, genres = artists_of(track.artist_ids)
                name, album_name = fold(track.name), fold(album.name)
                yield _Row(track.id, track.popularity, name, names, album_name, genres,
                           album.release_date, fold(track.isrc),
                           f"{name} {names} {album_name}")  # fmt: skip
        elif kind == "album":
            for album in catalog.albums.values():
                names, genres = artists_of(album.artist_ids)
                name = fold(album.name)
                yield _Row(album.id, album.popularity, name, names, name, genres,
                           album.release_date, album.upc, f"{name} {names}")  # fmt: skip
        else:
            for artist in catalog.artists.values():
                name = fold(artist.name)
                genres = tuple(fold(g) for g in artist.genres)
                yield _Row(artist.id, artist.popularity, name, name, "", genres, "", "", name)


_FILTERS = {
    "track": {"track", "artist", "album", "isrc", "year", "genre", "tag"},
    "album": {"album", "artist", "upc", "year", "tag"},
    "artist": {"artist", "genre", "year", "tag"},
}


_FIELD_TESTS: dict[str, Callable[[_Row, str], bool]] = {
    "track": lambda row, v: v in row.name,
    "artist": lambda row, v: v in row.artists,
    "album": lambda row, v: v in row.album,
    "isrc": lambda row, v: v == row.code,
    "upc": lambda row, v: v == row.code,
    "year": lambda row, v: not row.date or _year_matches(row.date, v),
    "genre": lambda row, v: any(v in genre for genre in row.genres),
    "tag": lambda row, v: True,  # tag:new / tag:hipster narrow nothing in the simulator
}


def _predicate(query: Query) -> Callable[[_Row], bool]:
    words, fields = query.words, [(_FIELD_TESTS[n], v) for n, v in query.filters.items()]

    def matches(row: _Row) -> bool:
        text = row.text
        return all(w in text for w in words) and all(test(row, v) for test, v in fields)

    return matches
