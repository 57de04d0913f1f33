"""The typed clients through the whole call path against the in-process simulator."""

from __future__ import annotations

from backbeat.clock import FakeClock
from tests.spotify.stack_fixtures import consent, simulated_stack


async def test_catalog_calls_are_typed_and_cached() -> None:
    async with simulated_stack() as (stack, plain, _):
        found = await stack.spotify.search("love", limit=5)
        assert found.tracks is not None
        tracks = found.tracks.items
        assert 0 < len(tracks) <= 5
        album = await stack.spotify.album(tracks[0].album.id)
        assert album.id == tracks[0].album.id
        sent = stack.spotify_upstream.upstream_requests
        pages = [items async for items in stack.spotify.all_album_tracks(album.id)]
        assert [t.id for page in pages for t in page] == [t.id for t in album.tracks.items]
        # The listing's first page came with the album, already looked up: no call more.
        assert album.tracks.next is None
        assert stack.spotify_upstream.upstream_requests == sent
        several = await stack.spotify.tracks([t.id for t in tracks] + ["0" * 22])
        assert [t.id if t else None for t in several] == [t.id for t in tracks] + [None]
        features = await stack.spotify.audio_features([t.id for t in tracks])
        assert all(f is not None and 0 <= f.energy <= 1 for f in features)

        before = stack.spotify_upstream.upstream_requests
        again = await stack.spotify.search("love", limit=5)
        assert again == found
        assert stack.spotify_upstream.upstream_requests == before  # served from the cache
        stats = (await plain.get("/_sim/stats")).json()["apps"]["backbeat-dev"]
        assert stats["http_429"] == 0
        assert stats["successes"] == before


async def test_user_calls_with_the_users_token() -> None:
    clock = FakeClock()
    async with simulated_stack(clock=clock) as (stack, plain, users):
        await consent(plain, users, "user0004", clock)
        me = stack.user("user0004")
        assert (await me.me()).id == "user0004"
        top = await me.top_tracks("short_term", limit=10)
        assert len(top.items) == 10
        playlist = await me.create_playlist("backbeat: by language")
        snapshot = await me.add_items(playlist.id, [t.uri for t in top.items])
        assert snapshot
        items = await me.playlist_items(playlist.id)
        assert [i.track.id for i in items.items if i.track] == [t.id for t in top.items]
        liked = [s async for page in me.all_saved_tracks() for s in page]
        assert len(liked) == (await me.saved_tracks(limit=1)).total


async def test_development_mode_falls_back_to_single_gets_and_reccobeats() -> None:
    from backbeat.config import SimulatorSettings

    async with simulated_stack(SimulatorSettings(artists=60, users=20, mode="development")) as (
        stack,
        plain,
        _,
    ):
        found = await stack.spotify.search("a", limit=5)
        assert found.tracks is not None
        ids = [t.id for t in found.tracks.items]
        several = await stack.spotify.tracks(ids)
        assert [t.id for t in several if t] == ids
        assert stack.spotify.batch_gets is False
        features = await stack.spotify.audio_features(ids[:2])
        assert [f.id for f in features if f] == ids[:2]
        assert stack.spotify.spotify_features is False
        stats = (await plain.get("/_sim/stats")).json()["apps"]
        assert stats["reccobeats"]["successes"] >= 2
