"""The upstream stack wired to an in-process simulator (no network, fake clock if wanted)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from backbeat.clock import Clock, FakeClock
from backbeat.config import (
    RateLimitSettings,
    ReccoBeatsSettings,
    Settings,
    SimulatorSettings,
    SpotifySettings,
)
from backbeat.simulator import create_app
from backbeat.spotify.auth import AccessToken, MemoryUserTokens
from backbeat.upstream.stack import UpstreamStack
from tests.simulator.sim_client import user_token

BASE = "http://sim"


def stack_settings(**ratelimit: object) -> Settings:
    return Settings(
        spotify=SpotifySettings(api_url=f"{BASE}/v1", accounts_url=BASE),
        reccobeats=ReccoBeatsSettings(url=f"{BASE}/reccobeats"),
        ratelimit=RateLimitSettings.model_validate(ratelimit),
    )


@asynccontextmanager
async def simulated_stack(
    simulator: SimulatorSettings | None = None,
    settings: Settings | None = None,
    clock: Clock | None = None,
) -> AsyncIterator[tuple[UpstreamStack, httpx.AsyncClient, MemoryUserTokens]]:
    """The stack and a plain client of the same simulator (for `/_sim/stats`, user consent)."""
    clock = clock or FakeClock()
    app = create_app(simulator or SimulatorSettings(artists=60, users=20), clock)
    transport = httpx.ASGITransport(app=app)
    users = MemoryUserTokens()
    stack = UpstreamStack(
        settings or stack_settings(), clock, transport=transport, user_tokens=users
    )
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as plain, stack:
        yield stack, plain, users


async def consent(
    plain: httpx.AsyncClient, users: MemoryUserTokens, user: str, clock: Clock
) -> None:
    """The user logs in through the simulator's accounts service; backbeat keeps the tokens."""
    token = await user_token(plain, user)
    await users.save(user, AccessToken(token, clock.time() + 3600, refresh_token=None))
