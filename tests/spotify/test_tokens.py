"""Tokens: the app's from client credentials, users' refreshed before they expire, one refresh
at a time per user (across processes on Redis), and a revoked token replaced once."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from backbeat.clock import FakeClock
from backbeat.config import CacheSettings, SimulatorSettings, SpotifySettings
from backbeat.errors import ReloginRequired
from backbeat.simulator import create_app
from backbeat.spotify.auth import REMEMBER_USER_TOKEN, AccessToken, MemoryUserTokens
from backbeat.upstream.stack import UpstreamStack
from tests.simulator.sim_client import user_grant
from tests.spotify.stack_fixtures import BASE, simulated_stack, stack_settings


async def test_a_user_token_near_expiry_is_refreshed_once_for_concurrent_calls() -> None:
    clock = FakeClock()
    async with simulated_stack(clock=clock) as (stack, plain, users):
        grant = await user_grant(plain, "user0006")
        # Stored as expiring in 30 s: inside the refresh margin, so the next call refreshes.
        await users.save(
            "user0006",
            AccessToken(grant["access_token"], clock.time() + 30, grant["refresh_token"]),
        )
        me = stack.user("user0006")
        answers = await asyncio.gather(*(me.me() for _ in range(10)))
        assert {a.id for a in answers} == {"user0006"}
        assert stack.tokens.refreshes == 1
        stored = await users.load("user0006")
        assert stored is not None
        assert stored.value != grant["access_token"]
        assert stored.expires_at > clock.time() + 3000


async def test_a_refused_token_is_replaced_once() -> None:
    clock = FakeClock()
    async with simulated_stack(clock=clock) as (stack, plain, users):
        grant = await user_grant(plain, "user0007")
        # The store believes the token is fresh, but the accounts service no longer knows it.
        await users.save(
            "user0007", AccessToken("revoked-token", clock.time() + 3600, grant["refresh_token"])
        )
        assert (await stack.user("user0007").me()).id == "user0007"
        assert stack.tokens.refreshes == 1


async def test_the_app_token_is_fetched_once_and_renewed_when_it_expires() -> None:
    clock = FakeClock()
    async with simulated_stack(clock=clock) as (stack, _, _):
        await asyncio.gather(*(stack.spotify.search(f"q{i}", limit=1) for i in range(5)))
        assert stack.tokens.refreshes == 1
        clock.advance(3600)
        await stack.spotify.search("later", limit=1)
        assert stack.tokens.refreshes == 2


async def test_a_user_token_is_read_from_the_store_once_while_trusted() -> None:
    clock = FakeClock()
    async with simulated_stack(clock=clock) as (stack, plain, users):
        grant = await user_grant(plain, "user0010")
        first = AccessToken(grant["access_token"], clock.time() + 3600, grant["refresh_token"])
        await users.save("user0010", first)
        loads: list[str] = []
        load = users.load

        async def counted(user: str) -> AccessToken | None:
            loads.append(user)
            return await load(user)

        users.load = counted  # type: ignore[method-assign]
        assert {await stack.tokens.token("user0010") for _ in range(5)} == {first.value}
        assert loads == ["user0010"]
        # Another process renews it (the old one stays valid): seen once the trust period ends.
        renewed = AccessToken("renewed-elsewhere", clock.time() + 3600, grant["refresh_token"])
        await users.save("user0010", renewed)
        clock.advance(REMEMBER_USER_TOKEN - 1)
        assert await stack.tokens.token("user0010") == first.value
        clock.advance(2)
        assert await stack.tokens.token("user0010") == renewed.value
        assert loads == ["user0010", "user0010"]
        assert stack.tokens.refreshes == 0


async def test_a_remembered_token_is_not_used_past_its_refresh_time() -> None:
    clock = FakeClock()
    async with simulated_stack(clock=clock) as (stack, plain, users):
        grant = await user_grant(plain, "user0011")
        # Fresh for 40 s more (the refresh margin is 60 s): well inside the trust period.
        await users.save(
            "user0011",
            AccessToken(grant["access_token"], clock.time() + 100, grant["refresh_token"]),
        )
        assert await stack.tokens.token("user0011") == grant["access_token"]
        clock.advance(41)
        assert await stack.tokens.token("user0011") != grant["access_token"]
        assert stack.tokens.refreshes == 1


class SlowAccounts(httpx.ASGITransport):
    """Token requests take a moment, as over a network: concurrent refreshes overlap."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/token":
            await asyncio.sleep(0.05)
        return await super().handle_async_request(request)


async def _refreshes_by_two_processes(redis_url: str | None) -> tuple[int, AccessToken | None]:
    """Two stacks (two processes' worth) on one simulator and one token store call as the same
    user at once, the stored token about to expire; how many refreshes they made in all."""
    clock = FakeClock()
    app = create_app(SimulatorSettings(artists=60, users=20), clock)
    transport = SlowAccounts(app=app)
    users = MemoryUserTokens()
    client_id = f"refresh-{uuid.uuid4().hex[:8]}"  # keys of its own in the shared Redis
    settings = stack_settings().model_copy(
        update={
            "redis_url": redis_url,
            "cache": CacheSettings(url="mem://"),  # answers of earlier runs would hide the calls
            "spotify": SpotifySettings(
                client_id=client_id, api_url=f"{BASE}/v1", accounts_url=BASE
            ),
        }
    )
    async with (
        httpx.AsyncClient(transport=transport, base_url=BASE) as plain,
        UpstreamStack(settings, clock, transport=transport, user_tokens=users) as first,
        UpstreamStack(settings, clock, transport=transport, user_tokens=users) as second,
    ):
        grant = await user_grant(plain, "user0008", client_id)
        await users.save(
            "user0008",
            AccessToken(grant["access_token"], clock.time() + 30, grant["refresh_token"]),
        )
        calls = [stack.user("user0008").me() for stack in (first, second) for _ in range(5)]
        assert {a.id for a in await asyncio.gather(*calls)} == {"user0008"}
        return first.tokens.refreshes + second.tokens.refreshes, await users.load("user0008")


async def test_processes_sharing_redis_refresh_a_user_token_once(redis_url: str) -> None:
    refreshes, stored = await _refreshes_by_two_processes(redis_url)
    assert refreshes == 1
    assert stored is not None
    assert stored.expires_at > 3000


async def test_without_a_shared_lock_each_process_refreshes_on_its_own() -> None:
    # What the shared lock prevents: the same calls without Redis refresh once per process.
    refreshes, _ = await _refreshes_by_two_processes(None)
    assert refreshes == 2


async def test_a_user_who_must_log_in_again_takes_no_slot() -> None:
    async with simulated_stack() as (stack, _, _):
        with pytest.raises(ReloginRequired):
            await stack.user("user0009").me()  # no tokens stored for this user
        app = stack.spotify_upstream.app
        assert (await stack.limiter.snapshot(app)).grants == 0
        assert stack.spotify_upstream.upstream_requests == 0
