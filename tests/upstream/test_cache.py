"""ResponseCache on memory and on Redis: hits and misses, per-user keys, TTLs, JSON storage."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from backbeat.simulator.server import free_port
from backbeat.upstream.cache import DEFAULT_TTLS, USER_ENDPOINTS, ResponseCache

TRACK = {"id": "4uLU6hMCjMI75M1A2tKUQC", "name": "Señorita", "artists": [{"id": "a1"}], "n": 7}


@pytest.fixture
async def cache(store_url: str, prefix: str) -> AsyncIterator[ResponseCache]:
    made = ResponseCache.from_url(store_url, {"track": 3600, "me": 60, "search": 0}, prefix=prefix)
    yield made
    await made.close()


async def stored_keys(cache: ResponseCache) -> list[str]:
    return [key async for key in cache.store.scan(f"{cache.prefix}:*")]


async def test_a_miss_then_a_hit_are_counted_per_endpoint(cache: ResponseCache) -> None:
    key = cache.key("track", "/v1/tracks/4uLU6hMCjMI75M1A2tKUQC", {"market": "SE"}, None)
    assert await cache.get("track", key) is None
    await cache.set("track", key, TRACK)
    assert await cache.get("track", key) == TRACK
    assert await cache.get("track", key) == TRACK
    other = cache.key("track", "/v1/tracks/other", None, None)
    assert await cache.get("track", other) is None
    assert cache.metrics() == {"track": {"hits": 2, "misses": 2}}


async def test_each_user_gets_an_entry_of_their_own(cache: ResponseCache) -> None:
    alice = cache.key("me", "/v1/me", None, "alice")
    bob = cache.key("me", "/v1/me", None, "bob")
    assert alice != bob
    await cache.set("me", alice, {"id": "alice"})
    assert await cache.get("me", bob) is None  # never alice's profile
    await cache.set("me", bob, {"id": "bob"})
    assert await cache.get("me", alice) == {"id": "alice"}
    assert await cache.get("me", bob) == {"id": "bob"}
    assert sorted(await stored_keys(cache)) == sorted(f"{cache.prefix}:{k}" for k in (alice, bob))


def test_a_user_endpoint_refuses_a_key_without_a_user(cache: ResponseCache) -> None:
    assert "top_items" in USER_ENDPOINTS
    with pytest.raises(ValueError, match="per user"):
        cache.key("top_items", "/v1/me/top/tracks", {"limit": 50}, None)


def test_keys_ignore_query_order_but_not_its_content(cache: ResponseCache) -> None:
    key = cache.key("search", "/v1/search", {"q": "abba", "type": "track", "limit": 10}, None)
    assert key == cache.key(
        "search", "/v1/search", {"limit": "10", "type": "track", "q": "abba"}, None
    )
    assert key == cache.key(
        "search", "/v1/search", {"q": "abba", "type": "track", "limit": 10, "market": None}, None
    )
    assert key != cache.key(
        "search", "/v1/search", {"q": "abba", "type": "track", "limit": 20}, None
    )
    assert key != cache.key("search", "/v1/search", {"q": "abba", "type": "track"}, None)
    assert key != cache.key(
        "search", "/v1/search", {"q": "abba", "type": "track", "limit": 10}, "u"
    )
    assert key.startswith("search:")


async def test_ttl_zero_or_missing_is_never_cached(cache: ResponseCache) -> None:
    key = cache.key("search", "/v1/search", {"q": "x"}, None)
    await cache.set("search", key, {"tracks": []})
    assert await cache.get("search", key) is None
    unknown = cache.key("create_playlist", "/v1/users/u/playlists", None, None)
    await cache.set("create_playlist", unknown, {"id": "p"})
    assert await cache.get("create_playlist", unknown) is None
    assert await stored_keys(cache) == []
    assert cache.metrics() == {}  # uncacheable endpoints do not dilute the hit rate


async def test_entries_expire_after_their_endpoint_ttl(cache: ResponseCache) -> None:
    track = cache.key("track", "/v1/tracks/t", None, None)
    me = cache.key("me", "/v1/me", None, "alice")
    await cache.set("track", track, TRACK)
    await cache.set("me", me, {"id": "alice"})
    assert 3598 <= await cache.store.get_expire(f"{cache.prefix}:{track}") <= 3600
    assert 58 <= await cache.store.get_expire(f"{cache.prefix}:{me}") <= 60


async def test_many_entries_in_one_round_trip(cache: ResponseCache) -> None:
    keys = [cache.key("track", f"/v1/tracks/{i}", None, None) for i in "abc"]
    await cache.set_many("track", {keys[0]: TRACK, keys[1]: None})  # None: not stored
    assert await cache.get_many("track", keys) == [TRACK, None, None]
    assert await cache.get_many("track", []) == []
    assert cache.metrics() == {"track": {"hits": 1, "misses": 2}}
    assert 3598 <= await cache.store.get_expire(f"{cache.prefix}:{keys[0]}") <= 3600
    assert await stored_keys(cache) == [f"{cache.prefix}:{keys[0]}"]
    search = cache.key("search", "/v1/search", {"q": "x"}, None)
    await cache.set_many("search", {search: {"tracks": []}})  # TTL 0: never cached
    assert await cache.get_many("search", [search]) == [None]
    assert "search" not in cache.metrics()


async def test_redis_holds_readable_json(redis_url: str, prefix: str) -> None:
    cache = ResponseCache.from_url(redis_url, prefix=prefix)
    key = cache.key("track", "/v1/tracks/t", None, None)
    await cache.set("track", key, TRACK)
    client = aioredis.Redis.from_url(redis_url)
    raw = await client.get(f"{prefix}:{key}")
    assert raw is not None
    tag, _, text = raw.partition(b":")  # cashews tags the bytes it is given
    assert tag == b"bytes"
    assert json.loads(text) == TRACK
    await client.delete(f"{prefix}:{key}")
    await client.aclose()
    await cache.close()


async def test_a_store_that_is_down_is_a_miss_not_an_error() -> None:
    cache = ResponseCache.from_url(f"redis://127.0.0.1:{free_port()}/0", prefix="bbtest:down")
    key = cache.key("track", "/v1/tracks/t", None, None)
    await cache.set("track", key, TRACK)
    assert await cache.get("track", key) is None
    assert cache.metrics() == {"track": {"hits": 0, "misses": 1}}
    await cache.set_many("track", {key: TRACK})
    assert await cache.get_many("track", [key, key]) == [None, None]
    await cache.close()


def test_default_ttls_follow_the_architecture() -> None:
    assert DEFAULT_TTLS["search"] == 30 * 60
    assert DEFAULT_TTLS["audio_features"] == DEFAULT_TTLS["several_audio_features"] == 86_400
    assert DEFAULT_TTLS["recommendations"] == DEFAULT_TTLS["reccobeats.artist_track"] == 3600
    assert all(2 * 3600 <= DEFAULT_TTLS[name] <= 86_400 for name in ("track", "album", "artist"))
    assert all(0 < DEFAULT_TTLS[name] <= 300 for name in USER_ENDPOINTS)
    assert "reccobeats.track" in DEFAULT_TTLS
    assert "create_playlist" not in DEFAULT_TTLS  # writes are never cached
