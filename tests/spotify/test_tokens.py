"""Tokens: the app's from client credentials, users' refreshed before they expire, one refresh
at a time per user, and a revoked token replaced once."""

from __future__ import annotations

import asyncio

from backbeat.clock import FakeClock
from backbeat.spotify.auth import AccessToken
from tests.simulator.sim_client import user_grant
from tests.spotify.stack_fixtures import simulated_stack


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
