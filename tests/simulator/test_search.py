"""Search: free words and field filters, accent-insensitive, most popular first."""

from __future__ import annotations

from backbeat.simulator.catalog import Catalog
from backbeat.simulator.search import Query, SearchIndex, fold

CATALOG = Catalog(42, 150)
INDEX = SearchIndex(CATALOG)


def test_query_parsing_and_folding() -> None:
    query = Query.parse('Mañana artist:"Emma Walker" year:1990-2000 genre:k-pop')
    assert query.words == ["manana"]
    assert query.filters == {"artist": "emma walker", "year": "1990-2000", "genre": "k-pop"}
    assert fold("Lumière CŒUR") == "lumiere cœur"


def test_filters_narrow_and_results_are_ranked_by_popularity() -> None:
    artist = max(CATALOG.artists.values(), key=lambda a: a.popularity)
    by_artist = INDEX.find("track", f'artist:"{artist.name}"')
    assert by_artist
    assert all(artist.id in CATALOG.tracks[t].artist_ids for t in by_artist)
    popularity = [CATALOG.tracks[t].popularity for t in by_artist]
    assert popularity == sorted(popularity, reverse=True)

    track = CATALOG.tracks[by_artist[0]]
    assert track.id in INDEX.find("track", f"isrc:{track.isrc}")
    in_range = INDEX.find("album", "year:1990-1999")
    assert in_range
    assert all(1990 <= int(CATALOG.albums[a].release_date[:4]) <= 1999 for a in in_range)
    genre = artist.genres[0]
    assert artist.id in INDEX.find("artist", f"genre:{genre}")
    assert INDEX.find("album", "isrc:whatever") == ()  # albums have no ISRC filter


def test_accents_do_not_matter() -> None:
    accented = next(t for t in CATALOG.tracks.values() if fold(t.name) != t.name.lower())
    plain = fold(accented.name).split()[0]
    assert accented.id in INDEX.find("track", plain)
