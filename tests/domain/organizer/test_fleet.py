"""The daily scan at fleet size: 200 simulated users sorted (time-scaled by the fake clock)
with 0 × 429, every playlist exactly right, and a second pass that changes nothing."""

from __future__ import annotations

import pytest

from backbeat.config import SimulatorSettings
from backbeat.db.engine import Database
from backbeat.db.models import User
from backbeat.domain.organizer import TrackLanguage
from backbeat.spotify.auth import AccessToken
from tests.domain.organizer.test_scan import organized
from tests.domain.organizer.world import World, organizer_world
from tests.simulator.sim_client import user_grant

USERS = 200


async def logged_in(world: World, user_id: str) -> str:
    """A user with a refresh token: the fleet takes hours of (fake) time, tokens expire."""
    async with world.database.sessions() as session, session.begin():
        session.add(User(id=user_id, spotify_id=user_id))
    grant = await user_grant(world.plain, user_id)
    token = AccessToken(grant["access_token"], world.clock.time() + 3600, grant["refresh_token"])
    await world.tokens.save(user_id, token)
    return user_id


async def check_sorted(world: World, user: str, language: TrackLanguage) -> None:
    expected = world.expected(user, language)
    found = organized(await world.playlists(user))
    assert set(found) == set(expected), user
    for name, lists in found.items():
        assert len(lists) == 1, f"{user}: {name} exists {len(lists)} times"
        [tracks] = lists
        assert len(tracks) == len(set(tracks)), f"{user}: {name} holds a song twice"
        assert set(tracks) == expected[name], f"{user}: {name}"


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_two_hundred_users_sorted_without_a_429_and_a_rerun_adds_nothing(
    database: Database,
) -> None:
    simulator = SimulatorSettings(artists=60, users=USERS)
    async with organizer_world(database, simulator) as world:
        users = [await logged_in(world, f"user{n:04d}") for n in range(USERS)]
        first = [await world.scan.run(user) for user in users]
        assert {result.outcome for result in first} == {"sorted"}
        assert sum(result.added for result in first) > USERS  # real work was done
        second = [await world.scan.run(user) for user in users]
        assert sum(result.added for result in second) == 0
        assert sum(result.playlists_created for result in second) == 0
        stats = (await world.plain.get("/_sim/stats")).json()
        assert sum(app["http_429"] for app in stats["apps"].values()) == 0
        language = TrackLanguage()
        for user in users:
            await check_sorted(world, user, language)
