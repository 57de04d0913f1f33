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


class SearchIndex:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.find = lru_cache(maxsize=2048)(self._find)

    def _find(self, kind: str, text: str) -> tuple[str, ...]:
        query = Query.parse(text)
        finders: dict[str, Callable[[Query], Iterable[tuple[int, str]]]] = {
            "track": self._tracks,
            "album": self._albums,
            "artist": self._artists,
        }
        finder = finders.get(kind)
        if finder is None:
            return ()
        hits = sorted(finder(query), key=lambda hit: (-hit[0], hit[1]))
        return tuple(entity_id for _, entity_id in hits)

    def _artist_names(self, artist_ids: tuple[str, ...]) -> str:
        return " ".join(fold(self.catalog.artists[a].name) for a in artist_ids)

    def _tracks(self, query: Query) -> Iterable[tuple[int, str]]:
        catalog, wanted = self.catalog, query.filters
        for track in catalog.tracks.values():
            album = catalog.albums[track.album_id]
            artists = self._artist_names(track.artist_ids)
            checks = (
                ("track", lambda v, t=track: v in fold(t.name)),
                ("artist", lambda v, a=artists: v in a),
                ("album", lambda v, al=album: v in fold(al.name)),
                ("isrc", lambda v, t=track: v == fold(t.isrc)),
                ("year", lambda v, al=album: _year_matches(al.release_date, v)),
                ("genre", lambda v, t=track: any(
                    v in fold(g) for a in t.artist_ids for g in catalog.artists[a].genres)),
            )  # fmt: skip
            if all(check(wanted[name]) for name, check in checks if name in wanted):
                text = f"{fold(track.name)} {artists} {fold(album.name)}"
                if all(word in text for word in query.words):
                    yield track.popularity, track.id

    def _albums(self, query: Query) -> Iterable[tuple[int, str]]:
        wanted = query.filters
        if {"track", "isrc", "genre"} & wanted.keys():
            return
        for album in self.catalog.albums.values():
            artists = self._artist_names(album.artist_ids)
            checks = (
                ("album", lambda v, al=album: v in fold(al.name)),
                ("artist", lambda v, a=artists: v in a),
                ("upc", lambda v, al=album: v == al.upc),
                ("year", lambda v, al=album: _year_matches(al.release_date, v)),
            )
            if all(check(wanted[name]) for name, check in checks if name in wanted):
                text = f"{fold(album.name)} {artists}"
                if all(word in text for word in query.words):
                    yield album.popularity, album.id

    def _artists(self, query: Query) -> Iterable[tuple[int, str]]:
        wanted = query.filters
        if {"track", "album", "isrc", "upc"} & wanted.keys():
            return
        for artist in self.catalog.artists.values():
            name = fold(artist.name)
            if "artist" in wanted and wanted["artist"] not in name:
                continue
            if "genre" in wanted and not any(wanted["genre"] in fold(g) for g in artist.genres):
                continue
            if all(word in name for word in query.words):
                yield artist.popularity, artist.id
