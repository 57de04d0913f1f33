"""The organizer's world in tests: a database, the upstream stack on an in-process simulator
(kept at hand for ground truth), users who consented, and reads of their playlists through the
simulator's Web API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from backbeat.clock import FakeClock
from backbeat.config import CacheSettings, SimulatorSettings
from backbeat.db.engine import Database
from backbeat.db.models import User
from backbeat.domain.organizer import (
    Group,
    OrganizerScan,
    OrganizerSettings,
    TrackLanguage,
    TrackText,
)
from backbeat.simulator import create_app
from backbeat.simulator.state import Simulator
from backbeat.spotify.auth import MemoryUserTokens
from backbeat.upstream.stack import UpstreamStack
from tests.simulator.sim_client import bearer, user_token
from tests.spotify.stack_fixtures import BASE, consent, stack_settings

SIM_USER = "user0015"  # 209 liked songs in Italian and English: pages, chunks, two languages


@dataclass
class World:
    database: Database
    stack: UpstreamStack
    plain: httpx.AsyncClient
    tokens: MemoryUserTokens
    sim: Simulator
    clock: FakeClock
    scan: OrganizerScan

    async def add_user(self, user_id: str = SIM_USER) -> str:
        """A backbeat user whose id is also the simulated user's, logged in."""
        async with self.database.sessions() as session, session.begin():
            session.add(User(id=user_id, spotify_id=user_id))
        await consent(self.plain, self.tokens, user_id, self.clock)
        return user_id

    async def sim_post(self, path: str, body: object) -> dict[str, Any]:
        response = await self.plain.post(path, json=body)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    async def fail(self, endpoint: str, *, after: int = 0, times: int = 100) -> None:
        """Fail `endpoint` after `after` calls, long enough to outlast the client's retries."""
        await self.sim_post("/_sim/faults", {"endpoint": endpoint, "after": after, "times": times})

    async def heal(self) -> None:
        assert (await self.plain.delete("/_sim/faults")).status_code == 200

    async def like(self, user_id: str, track_ids: list[str]) -> list[str]:
        added = await self.sim_post(f"/_sim/users/{user_id}/likes", {"track_ids": track_ids})
        return [item["id"] for item in added["added"]]

    async def playlists(self, user_id: str) -> dict[str, list[list[str]]]:
        """Every playlist of the user by name (a list per playlist of that name, so duplicates
        show), each as its track ids in order, read through the Web API."""
        headers = bearer(await user_token(self.plain, user_id))
        found: dict[str, list[list[str]]] = {}
        for playlist in await self._all(f"{BASE}/v1/me/playlists?limit=50", headers):
            items = await self._all(f"{BASE}/v1/playlists/{playlist['id']}/items", headers)
            found.setdefault(playlist["name"], []).append([i["track"]["id"] for i in items])
        # These reads count in the app's window, which the stack's limiter does not see.
        self.clock.advance(31)
        return found

    async def _all(self, url: str | None, headers: Mapping[str, str]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        while url:
            response = await self.plain.get(url, headers=headers)
            assert response.status_code == 200, response.text
            body = response.json()
            items.extend(body["items"])
            url = body["next"]
        return items

    def liked(self, user_id: str) -> list[str]:
        profile = self.sim.users.get(user_id)
        assert profile is not None
        return [saved.track_id for saved in self.sim.likes.liked(profile)]

    def expected(
        self, user_id: str, language: TrackLanguage, settings: OrganizerSettings | None = None
    ) -> dict[str, set[str]]:
        """Playlist name → the liked songs that belong in it, from the simulator's catalog."""
        settings = settings or OrganizerSettings()
        catalog = self.sim.catalog
        groups: dict[str, set[str]] = {}
        for track_id in self.liked(user_id):
            track = catalog.tracks[track_id]
            artists = " ".join(catalog.artists[a].name for a in track.artist_ids)
            text = TrackText(track.name, artists, catalog.albums[track.album_id].name)
            keys: list[Group] = []
            if settings.by_language and (code := language.detect(text)) is not None:
                keys.append(Group("language", code))
            genres = catalog.artists[track.artist_ids[0]].genres
            if settings.by_genre and genres:
                keys.append(Group("genre", genres[0]))
            for group in keys:
                name = settings.playlist_name(group.kind, group.key, group.display_name)
                groups.setdefault(name, set()).add(track_id)
        return groups


@asynccontextmanager
async def organizer_world(
    database: Database,
    simulator: SimulatorSettings | None = None,
    *,
    ttls: Mapping[str, float] | None = None,
) -> AsyncIterator[World]:
    """`ttls` overrides the response cache's (0: not cached)."""
    clock = FakeClock()
    app = create_app(simulator or SimulatorSettings(artists=60, users=20), clock)
    transport = httpx.ASGITransport(app=app)
    tokens = MemoryUserTokens()
    settings = stack_settings().model_copy(update={"cache": CacheSettings(ttls=dict(ttls or {}))})
    stack = UpstreamStack(settings, clock, transport=transport, user_tokens=tokens)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as plain, stack:
        scan = OrganizerScan(database, stack, clock, language=TrackLanguage())
        yield World(database, stack, plain, tokens, app.state.simulator, clock, scan)
