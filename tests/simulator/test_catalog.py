"""The synthetic catalog and users: deterministic, re-issues share ISRCs, languages recorded."""

from __future__ import annotations

import time
from collections import Counter

from backbeat.simulator.catalog import Catalog, is_spotify_id
from backbeat.simulator.languages import LANGUAGES
from backbeat.simulator.playlists import PlaylistStore
from backbeat.simulator.users import TIME_RANGES, Users


def test_same_seed_same_catalog_other_seed_other_catalog() -> None:
    first, again, other = Catalog(7, 60), Catalog(7, 60), Catalog(8, 60)
    assert list(first.tracks) == list(again.tracks)
    assert [t.name for t in first.tracks.values()] == [t.name for t in again.tracks.values()]
    assert set(first.tracks).isdisjoint(other.tracks)
    assert all(is_spotify_id(i) for i in [*first.tracks, *first.albums, *first.artists])


def test_reissues_repeat_the_originals_isrcs() -> None:
    catalog = Catalog(42, 300)
    reissues = [a for a in catalog.albums.values() if a.edition]
    assert {a.edition for a in reissues} == {"deluxe", "remastered"}
    for album in reissues:
        assert album.original_id is not None
        original = catalog.albums[album.original_id]
        assert original.edition is None
        assert album.name.startswith(original.name)
        original_isrcs = [catalog.tracks[t].isrc for t in original.track_ids]
        reissue_isrcs = [catalog.tracks[t].isrc for t in album.track_ids]
        assert reissue_isrcs[: len(original_isrcs)] == original_isrcs
        assert set(album.track_ids).isdisjoint(original.track_ids)  # new ids, same recordings
        if album.edition == "deluxe":
            assert len(reissue_isrcs) > len(original_isrcs)


def test_titles_are_in_several_recorded_languages() -> None:
    catalog = Catalog(42, 300)
    counts = Counter(t.language for t in catalog.tracks.values())
    assert set(counts) == {language.code for language in LANGUAGES}
    assert counts["en"] < 0.7 * len(catalog.tracks)
    japanese = [t.name for t in catalog.tracks.values() if t.language == "ja"]
    assert any("\u3040" <= ch <= "\u9fff" for name in japanese for ch in name)


def test_thousands_of_users_cost_nothing_until_used() -> None:
    catalog = Catalog(42, 100)
    started = time.perf_counter()
    users = Users(catalog, 5000)
    assert users.has_user("user4999")
    assert not users.has_user("user5000")
    assert not users.has_user("someone")
    assert time.perf_counter() - started < 0.5  # nothing generated yet

    profile = users.get("user1234")
    assert profile is not None
    assert profile == Users(catalog, 5000).get("user1234")  # deterministic
    for time_range in TIME_RANGES:
        assert len(profile.top_tracks[time_range]) == 50
        assert all(t in catalog.tracks for t in profile.top_tracks[time_range])
        assert all(a in catalog.artists for a in profile.top_artists[time_range])
    assert profile.top_tracks["short_term"] != profile.top_tracks["long_term"]
    liked_times = [saved.at for saved in profile.liked]
    assert liked_times == sorted(liked_times, reverse=True)
    assert len(profile.recently_played) == 50


def test_generated_playlists_resolve_by_id_without_their_owner_loaded() -> None:
    catalog = Catalog(42, 100)
    users = Users(catalog, 300)
    owner = next(u for u in (users.get(users.user_id(i)) for i in range(300)) if u and u.playlists)
    playlist_id = PlaylistStore(users, 42).of_user(owner.id)[0].id
    fresh = PlaylistStore(Users(catalog, 300), 42)
    found = fresh.get(playlist_id)
    assert found is not None
    assert found.owner_id == owner.id
    assert fresh.get("0" * 22) is None


def test_zipf_taste_concentrates_users_on_the_popular_artists() -> None:
    from collections import Counter

    from backbeat.simulator.users import Users

    catalog = Catalog(42, 400)

    def top_share(users: Users) -> float:
        """Share of all favourite picks that fall on the 40 most picked artists."""
        picks = Counter(a for i in range(60) for a in users.profile(i).top_artists["long_term"])
        return sum(n for _, n in picks.most_common(40)) / sum(picks.values())

    assert top_share(Users(catalog, 60, zipf=1.1)) > 1.4 * top_share(Users(catalog, 60))
