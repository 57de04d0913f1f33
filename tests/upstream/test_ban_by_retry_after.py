"""A 429 whose Retry-After is longer than the ban threshold is a ban even without Spotify's
quota reason: the caller gets `UpstreamBanned` (jobs defer to its end) and the limiter keeps
every process away until then."""

from __future__ import annotations

import httpx
import pytest

from backbeat.clock import FakeClock
from backbeat.ratelimit import Priority, UpstreamBanned
from backbeat.upstream.stack import UpstreamStack
from tests.spotify.stack_fixtures import stack_settings


def spotify(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/api/token":
        return httpx.Response(200, json={"access_token": "app", "expires_in": 3600})
    return httpx.Response(
        429, headers={"Retry-After": "7200"}, json={"error": {"status": 429, "message": "slow"}}
    )


async def test_a_long_retry_after_bans_instead_of_retrying() -> None:
    clock = FakeClock()
    transport = httpx.MockTransport(spotify)
    async with UpstreamStack(stack_settings(), clock, transport=transport) as stack:
        with pytest.raises(UpstreamBanned) as banned:
            await stack.spotify.album("album1", priority=Priority.HIGH)
        assert banned.value.retry_at == pytest.approx(clock.time() + 7200, abs=5)
        app = next(name for name in stack.limiter.policies if name.startswith("spotify:"))
        assert (await stack.limiter.snapshot(app)).ban_remaining > 7000
        with pytest.raises(UpstreamBanned):  # the next call does not even reach Spotify
            await stack.spotify.album("album2", priority=Priority.HIGH)
