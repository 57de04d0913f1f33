"""Typed ReccoBeats calls through `Upstream.call` (its own budget: per-endpoint windows and
minimum intervals, five in flight). Unknown ids are left out of its answers; the registry
remembers them so they are not asked again for a week."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from backbeat.errors import UpstreamNotFound
from backbeat.ratelimit import Priority
from backbeat.reccobeats import models as r
from backbeat.spotify.models import AudioFeatures
from backbeat.upstream.batch import each
from backbeat.upstream.call import Request, Upstream
from backbeat.upstream.entities import EntityBatches, EntityKind
from backbeat.upstream.registry import IdRegistry

MAX_TRACK_IDS = 40
MAX_SEEDS = 5
FEATURE_CONCURRENCY = 5  # the policy's concurrency cap; more would only queue
# `/v1/track?ids=` per track, keyed by the Spotify id it was asked for (ReccoBeats has no single
# get by Spotify id: the path only names the cache entry).
TRACKS = EntityKind("track", "track", "/v1/track/spotify/{}", MAX_TRACK_IDS)


class NoTokens:
    """ReccoBeats needs no key."""

    async def token(self, user: str | None) -> None:
        return None

    async def invalidate(self, user: str | None, token: str) -> None:
        return None


class ReccoBeatsClient:
    def __init__(self, upstream: Upstream, *, registry: IdRegistry | None = None) -> None:
        self.upstream = upstream
        self.registry = registry
        self.entities = EntityBatches(upstream)

    async def _get(
        self,
        endpoint: str,
        path: str,
        params: dict[str, str | int] | None = None,
        priority: Priority = Priority.NORMAL,
    ) -> Any:
        return await self.upstream.call(
            Request(endpoint, path, params=params or {}, priority=priority)
        )

    async def tracks(self, ids: Sequence[str]) -> list[r.ReccoTrack | None]:
        """ReccoBeats' tracks for Spotify ids, in order; None where it has none. Cached per
        track, as Spotify's batch gets are (`EntityBatches`)."""
        known = await self.registry.lookup("reccobeats.track", ids) if self.registry else {}
        wanted = [i for i in dict.fromkeys(ids) if known.get(i) is not False]

        async def chunk(part: list[str]) -> list[Any]:
            request = Request("track", "/v1/track", params={"ids": ",".join(part)})
            body = await self.upstream.fetch_shared(request)
            by_spotify = {
                r.ReccoTrack.model_validate(t).spotify_id: t for t in body.get("content", [])
            }
            return [by_spotify.get(i) for i in part]  # left out of the answer: unknown

        raw = await self.entities.get(TRACKS, wanted, chunk) if wanted else {}
        found = {i: r.ReccoTrack.model_validate(t) for i, t in raw.items() if t}
        if self.registry:
            await self.registry.mark(
                "reccobeats.track",
                found=[i for i in wanted if i in found],
                missing=[i for i in wanted if i not in found],
            )
        return [found.get(i) for i in ids]

    async def recommendation(self, seeds: Sequence[str], size: int = 10) -> list[r.ReccoTrack]:
        if not 1 <= len(seeds) <= MAX_SEEDS:
            raise ValueError(f"ReccoBeats takes 1 to {MAX_SEEDS} seeds, got {len(seeds)}")
        body = await self._get(
            "track_recommendation",
            "/v1/track/recommendation",
            {"seeds": ",".join(seeds), "size": size},
        )
        return [r.ReccoTrack.model_validate(t) for t in body.get("content", [])]

    async def track_audio_features(self, track_id: str) -> r.ReccoFeatures | None:
        try:
            body = await self._get("track_audio_features", f"/v1/track/{track_id}/audio-features")
        except UpstreamNotFound:
            return None
        return r.ReccoFeatures.model_validate(body)

    async def audio_features(self, ids: Sequence[str]) -> list[AudioFeatures | None]:
        """Spotify-shaped features for Spotify ids (the fallback of `SpotifyClient`)."""

        async def one(track_id: str) -> AudioFeatures | None:
            found = await self.track_audio_features(track_id)
            if found is None:
                return None
            return AudioFeatures.model_validate({**found.model_dump(), "id": track_id})

        return await each(ids, one, concurrency=FEATURE_CONCURRENCY)

    async def artist_search(
        self, text: str, *, page: int = 0, size: int = 25
    ) -> r.ReccoPage[r.ReccoArtist]:
        body = await self._get(
            "artist_search", "/v1/artist/search", {"searchText": text, "page": page, "size": size}
        )
        return r.ReccoPage[r.ReccoArtist].model_validate(body)

    async def artist_tracks(
        self, artist_id: str, *, page: int = 0, size: int = 25
    ) -> r.ReccoPage[r.ReccoTrack]:
        body = await self._get(
            "artist_track", f"/v1/artist/{artist_id}/track", {"page": page, "size": size}
        )
        return r.ReccoPage[r.ReccoTrack].model_validate(body)
