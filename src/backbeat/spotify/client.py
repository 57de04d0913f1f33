"""Typed Spotify Web API calls, each through `Upstream.call` (cache, dedup, limiter, retries).

Batch gets are answered per entity (`EntityBatches`: cached under each single get's key, only the
ids not cached fetched, in chunks of each endpoint's maximum) and skip ids the registry knows are
missing; where a development-mode app has lost the batch endpoints (403) they fall back to single
gets, and audio features come from ReccoBeats when Spotify refuses them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, Protocol

from backbeat.errors import UpstreamAuthError, UpstreamNotFound
from backbeat.ratelimit import OpClass, Priority
from backbeat.spotify import models as m
from backbeat.upstream.batch import each, pages
from backbeat.upstream.call import Request, Upstream
from backbeat.upstream.entities import EntityBatches, EntityKind
from backbeat.upstream.registry import IdRegistry

MAX_IDS = {"tracks": 50, "artists": 50, "albums": 20, "audio-features": 100}
# Batch endpoints, each cached per entity under its single get (audio features: the single
# `/audio-features/{id}`, which the client does not call but the `/v1` pass-through may).
ENTITIES = {
    "tracks": EntityKind("tracks", "track", "/tracks/{}", MAX_IDS["tracks"]),
    "artists": EntityKind("artists", "artist", "/artists/{}", MAX_IDS["artists"]),
    "albums": EntityKind("albums", "album", "/albums/{}", MAX_IDS["albums"]),
    "audio_features": EntityKind(
        "several_audio_features", "audio_features", "/audio-features/{}", MAX_IDS["audio-features"]
    ),
}
MAX_ADD_ITEMS = 100


class FeatureSource(Protocol):
    """Audio features from elsewhere (ReccoBeats) when Spotify refuses them."""

    async def audio_features(self, ids: Sequence[str]) -> list[m.AudioFeatures | None]: ...


class SpotifyClient:
    def __init__(
        self,
        upstream: Upstream,
        *,
        registry: IdRegistry | None = None,
        features_fallback: FeatureSource | None = None,
    ) -> None:
        self.upstream = upstream
        self.entities = EntityBatches(upstream)
        self.registry = registry
        self.features_fallback = features_fallback
        self.batch_gets = True  # False once Spotify answered 403 (development mode)
        self.spotify_features = True

    async def _get(
        self,
        endpoint: str,
        path: str,
        *,
        params: dict[str, str | int] | None = None,
        user: str | None = None,
        priority: Priority = Priority.NORMAL,
        max_wait: float | None = None,
        op_class: OpClass = "read",
    ) -> Any:
        return await self.upstream.call(
            Request(
                endpoint,
                path,
                params=params or {},
                user=user,
                priority=priority,
                max_wait=max_wait,
                op_class=op_class,
            )
        )

    # -- catalog ---------------------------------------------------------------------------

    async def search(
        self,
        q: str,
        types: Sequence[str] = ("track",),
        *,
        limit: int = 10,
        offset: int = 0,
        priority: Priority = Priority.NORMAL,
        max_wait: float | None = None,
    ) -> m.SearchResult:
        params: dict[str, str | int] = {
            "q": q,
            "type": ",".join(types),
            "limit": limit,
            "offset": offset,
        }
        return m.SearchResult.model_validate(
            await self._get(
                "search", "/search", params=params, priority=priority, max_wait=max_wait
            )
        )

    async def album(self, album_id: str, *, priority: Priority = Priority.NORMAL) -> m.Album:
        return m.Album.model_validate(
            await self._get("album", f"/albums/{album_id}", priority=priority)
        )

    async def album_tracks(
        self,
        album_id: str,
        *,
        limit: int = 50,
        offset: int = 0,
        priority: Priority = Priority.NORMAL,
    ) -> m.Page[m.TrackRef]:
        body = await self._get(
            "album_tracks",
            f"/albums/{album_id}/tracks",
            params={"limit": limit, "offset": offset},
            priority=priority,
        )
        return m.Page[m.TrackRef].model_validate(body)

    async def all_album_tracks(
        self, album_id: str, *, priority: Priority = Priority.NORMAL
    ) -> AsyncIterator[list[m.TrackRef]]:
        """Every track of the album, page by page. The first page comes with the album itself
        (one call, cached under the album's key and so shared with album look-ups); only the
        tracks past it need `/albums/{id}/tracks`."""
        first = (await self.album(album_id, priority=priority)).tracks
        yield list(first.items)
        if first.next is None or not first.items:
            return

        async def fetch(limit: int, offset: int) -> m.Page[m.TrackRef]:
            return await self.album_tracks(album_id, limit=limit, offset=offset, priority=priority)

        async for items in pages(fetch, start=len(first.items)):
            yield items

    async def artist(self, artist_id: str, *, priority: Priority = Priority.NORMAL) -> m.Artist:
        return m.Artist.model_validate(
            await self._get("artist", f"/artists/{artist_id}", priority=priority)
        )

    async def artist_albums(
        self,
        artist_id: str,
        *,
        include_groups: str = "album,single",
        limit: int = 10,
        offset: int = 0,
        priority: Priority = Priority.NORMAL,
    ) -> m.Page[m.AlbumRef]:
        params: dict[str, str | int] = {
            "include_groups": include_groups,
            "limit": limit,
            "offset": offset,
        }
        body = await self._get(
            "artist_albums", f"/artists/{artist_id}/albums", params=params, priority=priority
        )
        return m.Page[m.AlbumRef].model_validate(body)

    async def artist_top_tracks(self, artist_id: str) -> list[m.Track]:
        body = await self._get("artist_top_tracks", f"/artists/{artist_id}/top-tracks")
        return [m.Track.model_validate(t) for t in body["tracks"]]

    async def track(self, track_id: str, *, priority: Priority = Priority.NORMAL) -> m.Track:
        if self.registry and (await self.registry.lookup("track", [track_id]))[track_id] is False:
            raise UpstreamNotFound("spotify", "track", 404, f"{track_id} is known to be missing")
        try:
            body = await self._get("track", f"/tracks/{track_id}", priority=priority)
        except UpstreamNotFound:
            if self.registry:
                await self.registry.mark("track", missing=[track_id])
            raise
        if self.registry:
            await self.registry.mark("track", found=[track_id])
        return m.Track.model_validate(body)

    async def tracks(
        self, ids: Sequence[str], *, priority: Priority = Priority.NORMAL
    ) -> list[m.Track | None]:
        """Tracks in the order of `ids`; None where Spotify has no such track."""
        return await self._several("tracks", "track", ids, m.Track, self.track, priority)

    async def artists(
        self, ids: Sequence[str], *, priority: Priority = Priority.NORMAL
    ) -> list[m.Artist | None]:
        return await self._several("artists", "artist", ids, m.Artist, self.artist, priority)

    async def albums(
        self, ids: Sequence[str], *, priority: Priority = Priority.NORMAL
    ) -> list[m.Album | None]:
        return await self._several("albums", "album", ids, m.Album, self.album, priority)

    async def _several(
        self,
        kind: str,
        single: str,
        ids: Sequence[str],
        model: Any,
        one: Any,
        priority: Priority,
    ) -> list[Any]:
        known = await self.registry.lookup(single, ids) if self.registry else {}
        wanted = [i for i in dict.fromkeys(ids) if known.get(i) is not False]

        async def batch(chunk: list[str]) -> Sequence[Any]:
            return await self._batch_get(kind, chunk, priority)

        async def single_get(entity_id: str) -> Any:
            try:
                return await one(entity_id, priority=priority)
            except UpstreamNotFound:
                return None

        found: list[Any] = []
        if self.batch_gets:
            try:
                raw = await self.entities.get(ENTITIES[kind], wanted, batch)
                found = [model.model_validate(raw[i]) if raw[i] else None for i in wanted]
            except UpstreamAuthError as error:
                if error.status != 403:
                    raise
                self.batch_gets = False  # development mode: batch gets are gone
        if not self.batch_gets:
            found = await each(wanted, single_get)
        by_id = dict(zip(wanted, found, strict=True))
        if self.registry:
            await self.registry.mark(
                single,
                found=[i for i, x in by_id.items() if x],
                missing=[i for i, x in by_id.items() if x is None],
            )
        return [by_id.get(i) for i in ids]

    async def audio_features(
        self, ids: Sequence[str], *, priority: Priority = Priority.NORMAL
    ) -> list[m.AudioFeatures | None]:
        """From Spotify (extended-quota apps), else from the fallback (ReccoBeats)."""
        if self.spotify_features:

            async def chunk(part: list[str]) -> Sequence[Any]:
                return await self._batch_get("audio_features", part, priority)

            try:
                raw = await self.entities.get(ENTITIES["audio_features"], ids, chunk)
                return [m.AudioFeatures.model_validate(raw[i]) if raw[i] else None for i in ids]
            except UpstreamAuthError as error:
                if error.status != 403 or self.features_fallback is None:
                    raise
                self.spotify_features = False
        if self.features_fallback is None:
            raise UpstreamAuthError("spotify", "audio_features", 403, "no audio features source")
        return await self.features_fallback.audio_features(ids)

    async def _batch_get(self, kind: str, chunk: list[str], priority: Priority) -> Sequence[Any]:
        """One batch request for ids none of which is cached: each one's JSON (None: missing),
        under the answer's field `kind`. `EntityBatches` counted it as asked and caches its
        entities one by one, so it is not cached whole."""
        entity = ENTITIES[kind]
        request = Request(
            entity.batch,
            entity.path.removesuffix("/{}"),  # /tracks/{} → /tracks?ids=…
            params={"ids": ",".join(chunk)},
            op_class="batch",
            priority=priority,
        )
        body = await self.upstream.fetch_shared(request)
        items: Sequence[Any] = body[kind]
        return items

    async def recommendations(
        self,
        *,
        seed_tracks: Sequence[str] = (),
        seed_artists: Sequence[str] = (),
        seed_genres: Sequence[str] = (),
        limit: int = 20,
    ) -> m.Recommendations:
        params: dict[str, str | int] = {"limit": limit}
        for name, seeds in (
            ("seed_tracks", seed_tracks),
            ("seed_artists", seed_artists),
            ("seed_genres", seed_genres),
        ):
            if seeds:
                params[name] = ",".join(seeds)
        return m.Recommendations.model_validate(
            await self._get("recommendations", "/recommendations", params=params)
        )
