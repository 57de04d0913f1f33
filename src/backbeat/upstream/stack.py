"""Everything one process needs to call the upstreams, built from settings and owned by the
process's lifespan: one HTTP pool, one limiter, one cache, dedup and ID registry, and the
Spotify and ReccoBeats clients on top. With `redis_url` the shared parts live in Redis."""

from __future__ import annotations

from types import TracebackType

import httpx
import redis.asyncio as aioredis

from backbeat.clock import Clock, SystemClock
from backbeat.config import Settings
from backbeat.ratelimit import Limiter, Priority
from backbeat.reccobeats.client import NoTokens, ReccoBeatsClient
from backbeat.spotify.auth import Accounts, MemoryUserTokens, SpotifyTokens, UserTokenStore
from backbeat.spotify.client import SpotifyClient
from backbeat.spotify.user import SpotifyUser
from backbeat.upstream.cache import DEFAULT_TTLS, ResponseCache
from backbeat.upstream.call import Upstream
from backbeat.upstream.dedup import Dedup
from backbeat.upstream.http import make_http_client
from backbeat.upstream.metrics import UpstreamMetrics
from backbeat.upstream.refresh_lock import RedisRefreshLock
from backbeat.upstream.registry import IdRegistry


class UpstreamStack:
    def __init__(
        self,
        settings: Settings,
        clock: Clock | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        user_tokens: UserTokenStore | None = None,
    ) -> None:
        self.clock = clock or SystemClock()
        shared = settings.redis_url
        limits = settings.ratelimit
        self.http = make_http_client(timeout=settings.spotify.timeout, transport=transport)
        self.redis = aioredis.Redis.from_url(shared) if shared else None
        spotify_policy = limits.spotify_policy(settings.spotify.client_id)
        recco_policy = limits.reccobeats_policy()
        limiter_url = limits.url if limits.url != "memory://" or not shared else shared
        self.limiter = Limiter.from_url(
            limiter_url,
            {spotify_policy.app: spotify_policy, recco_policy.app: recco_policy},
            self.clock,
            per_process_fallback=limits.store_down == "per-process",
            expected_processes=limits.expected_processes,
        )
        cache_url = settings.cache.url or shared or "mem://"
        self.cache = ResponseCache.from_url(cache_url, {**DEFAULT_TTLS, **settings.cache.ttls})
        self.registry = IdRegistry.from_url(cache_url, self.clock)
        self.dedup = Dedup(self.redis, clock=self.clock)
        # This process's registry, served at /metrics.
        self.metrics = UpstreamMetrics(self.cache, dedup=self.dedup)
        accounts = Accounts(
            self.http,
            settings.spotify.accounts_url,
            settings.spotify.client_id,
            settings.spotify.client_secret,
            self.clock,
        )
        across = RedisRefreshLock(self.redis, spotify_policy.app) if self.redis else None
        self.tokens = SpotifyTokens(accounts, user_tokens or MemoryUserTokens(), across)
        self.spotify_upstream = Upstream(
            "spotify",
            settings.spotify.api_url,
            self.http,
            self.limiter,
            spotify_policy.app,
            self.tokens,
            self.clock,
            cache=self.cache,
            dedup=self.dedup,
            metrics=self.metrics,
        )
        self.reccobeats_upstream = Upstream(
            "reccobeats",
            settings.reccobeats.url,
            self.http,
            self.limiter,
            recco_policy.app,
            NoTokens(),
            self.clock,
            namespace="reccobeats.",
            cache=self.cache,
            dedup=self.dedup,
            metrics=self.metrics,
        )
        self.reccobeats = ReccoBeatsClient(self.reccobeats_upstream, registry=self.registry)
        self.spotify = SpotifyClient(
            self.spotify_upstream, registry=self.registry, features_fallback=self.reccobeats
        )

    def user(self, user_id: str, priority: Priority = Priority.NORMAL) -> SpotifyUser:
        return SpotifyUser(self.spotify_upstream, user_id, priority)

    async def aclose(self) -> None:
        await self.http.aclose()
        await self.limiter.close()
        await self.cache.close()
        await self.registry.close()
        if self.redis is not None:
            await self.redis.aclose()

    async def __aenter__(self) -> UpstreamStack:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
