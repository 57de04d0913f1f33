"""One song per recording: title normalization, the merge rules, which release is kept — and
the simulator's deluxe and remastered duplicates collapsing onto their originals."""

from __future__ import annotations

from collections import Counter

import pytest

from backbeat.domain.ranking.dedup import (
    RecordingSet,
    Release,
    dedupe,
    dedupe_by,
    normalize_title,
    same_recording,
)
from backbeat.simulator.catalog import Catalog
from backbeat.simulator.objects import Renderer
from backbeat.spotify import models as m


@pytest.mark.parametrize(
    ("title", "normalized"),
    [
        ("Come Together - Remastered 2009", "come together"),
        ("Come Together (2019 Mix)", "come together 2019 mix"),
        ("Here Comes the Sun - 2009 Remaster", "here comes the sun"),
        ("Yellow (Deluxe Edition)", "yellow"),
        ("Yellow [Bonus Track]", "yellow"),
        ("Help! - Mono Version", "help"),
        ("Something - Single Version", "something"),
        ("Café del Mar", "cafe del mar"),
        ("Don't Stop Me Now", "dont stop me now"),
        ("Señorita (feat. Camila Cabello)", "senorita"),
        ("Stay (with Justin Bieber)", "stay"),
        ("Lose Yourself feat. Eminem", "lose yourself"),
        ("Hey Jude - Live", "hey jude live"),
        ("Creep (Acoustic)", "creep acoustic"),
        ("Love Story (Taylor's Version)", "love story taylors version"),
        ("Blue Monday - Radio Edit", "blue monday radio edit"),
        (
            "Bohemian Rhapsody (Live Aid / Remastered 2011)",
            "bohemian rhapsody live aid remastered 2011",
        ),
        ("がんばって", "がんばって"),  # kana voicing marks are letters, not accents
        ("Ёлка", "елка"),  # diacritics of Cyrillic go too: ё and е are spelled alike
        ("(Remastered)", "(remastered)"),  # nothing left: the title itself, casefolded
    ],
)
def test_normalize_title(title: str, normalized: str) -> None:
    assert normalize_title(title) == normalized


def release(
    key: str,
    title: str,
    *,
    artist: str = "artist",
    isrc: str | None = None,
    album_name: str | None = None,
    album_type: str | None = None,
    release_date: str | None = None,
    duration_ms: int | None = None,
) -> Release:
    return Release(key, title, artist, isrc, album_name, album_type, release_date, duration_ms)


def test_same_isrc_is_one_recording_whatever_the_titles() -> None:
    assert same_recording(release("a", "Song", isrc="X1"), release("b", "Other", isrc="X1"))


def test_same_title_with_different_isrcs_is_two_recordings_unless_retitled() -> None:
    intro_one = release("a", "Intro", isrc="X1", duration_ms=60_000)
    intro_two = release("b", "Intro", isrc="X2", duration_ms=61_000)
    assert not same_recording(intro_one, intro_two)
    remaster = release("c", "Intro - Remastered 2011", isrc="X3", duration_ms=62_000)
    assert same_recording(intro_one, remaster)
    # A deluxe edition's new ISRC under an old title is a bonus recording, not a re-issue.
    bonus = release("d", "Intro", isrc="X4", album_name="Album (Deluxe Edition)")
    assert not same_recording(intro_one, bonus)


def test_same_title_without_isrc_needs_the_same_artist_and_length() -> None:
    song = release("a", "Song", isrc="X1", duration_ms=200_000)
    assert same_recording(song, release("b", "Song (feat. Y)", duration_ms=205_000))
    assert not same_recording(song, release("c", "Song", duration_ms=260_000))
    assert not same_recording(song, release("d", "Song", artist="other"))
    assert not same_recording(song, release("e", "Song - Live", duration_ms=200_000))


def test_the_studio_album_release_is_kept() -> None:
    album = release("k3", "Song", isrc="X", album_type="album", release_date="2001-05-01")
    single = release("k1", "Song", isrc="X", album_type="single", release_date="2001-01-01")
    deluxe = release(
        "k0",
        "Song",
        isrc="X",
        album_type="album",
        album_name="A (Deluxe)",
        release_date="2001-05-01",
    )
    remaster = release("k2", "Song - Remastered", isrc="X", album_type="album", release_date="2011")
    best = release("k9", "Hits", isrc="Y", album_type="compilation", release_date="1999")
    releases = [deluxe, single, remaster, album, best]
    assert dedupe_by(releases, lambda r: r) == [album, best]


def test_the_earliest_album_wins_between_plain_albums() -> None:
    later = release("a", "Song", isrc="X", album_type="album", release_date="2005")
    earlier = release("b", "Song", isrc="X", album_type="album", release_date="1999-03")
    assert dedupe_by([later, earlier], lambda r: r) == [earlier]


def test_held_recordings_keep_their_place() -> None:
    held = [release("old", "Song - Remastered", isrc="X")]
    original = release("new", "Song", isrc="X", album_type="album")
    other = release("other", "Other", isrc="Y")
    assert dedupe_by([original, other], lambda r: r, held=held) == [other]
    recordings = RecordingSet(held)
    assert original in recordings
    assert recordings.add(other)
    assert not recordings.add(other)


@pytest.mark.parametrize(("seed", "artists"), [(42, 60), (7, 200)])
def test_the_simulator_catalog_collapses_to_one_song_per_isrc(seed: int, artists: int) -> None:
    catalog = Catalog(seed, artists)
    render = Renderer(catalog, "http://sim/v1")
    reissued = 0
    for album_ids in catalog.artist_albums.values():
        tracks = [
            m.Track.model_validate(render.track(catalog.tracks[track_id]))
            for album_id in album_ids
            for track_id in catalog.albums[album_id].track_ids
        ]
        kept = dedupe(tracks)
        assert Counter(t.isrc for t in kept) == Counter({t.isrc: 1 for t in tracks})
        for track in kept:
            if catalog.albums[track.album.id].edition is not None:
                # only bonus recordings, which exist on the deluxe edition alone
                assert all(
                    catalog.albums[t.album.id].edition for t in tracks if t.isrc == track.isrc
                )
        reissued += any(catalog.albums[album_id].edition for album_id in album_ids)
    assert reissued >= 10  # the catalog does carry deluxe and remastered editions
