"""`open_services`: what one process's apps run on — the database (migrated), the upstream
clients with users' tokens from the database, and the accounts services — opened once by the
API's lifespan or a worker's start-up and closed on the way out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx

from backbeat.clock import Clock, SystemClock
from backbeat.config import Settings
from backbeat.db import migrations
from backbeat.db.engine import Database, open_database
from backbeat.domain.accounts import (
    DatabaseUserTokens,
    LoginFlow,
    Sessions,
    UserAccounts,
    session_secret,
)
from backbeat.domain.insights import InsightService, provider_from_settings
from backbeat.domain.organizer import OrganizerScan, TrackLanguage
from backbeat.domain.ranking import RankingService, SongCatalog
from backbeat.domain.ranking.leaderboards import LeaderboardService, artist_lock
from backbeat.domain.recommendations import RecommendationService
from backbeat.upstream.stack import UpstreamStack


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    clock: Clock
    database: Database
    upstreams: UpstreamStack
    tokens: DatabaseUserTokens
    users: UserAccounts
    sessions: Sessions
    login: LoginFlow
    insights: InsightService
    ranking: RankingService
    songs: SongCatalog
    leaderboards: LeaderboardService
    recommendations: RecommendationService
    organizer: OrganizerScan


@asynccontextmanager
async def migrated_database(settings: Settings) -> AsyncIterator[Database]:
    """The process's database, migrated to head first unless `database.auto_migrate` is off."""
    async with open_database(settings) as database:
        if settings.database.auto_migrate:
            await migrations.upgrade(database.engine)
        yield database


@asynccontextmanager
async def open_services(
    settings: Settings,
    *,
    clock: Clock | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> AsyncIterator[Services]:
    """`transport` routes the upstream calls (tests: an in-process simulator)."""
    time: Clock = clock or SystemClock()
    secret = session_secret(settings)  # refuses to start without one outside development
    async with migrated_database(settings) as database:
        tokens = DatabaseUserTokens(database, time)
        async with (
            UpstreamStack(settings, time, transport=transport, user_tokens=tokens) as stack,
            # The LLM endpoint is not Spotify: a pool of its own, with its own timeout.
            httpx.AsyncClient(timeout=settings.insights.timeout) as llm,
        ):
            users = UserAccounts(database, time)
            sessions = Sessions(database, secret, time, max_age=settings.auth.session_max_age)
            login = LoginFlow(
                settings, stack.tokens.accounts, stack.spotify_upstream, users, tokens, sessions
            )
            provider = provider_from_settings(settings, llm, clock=time)
            lock = artist_lock(database, stack.redis)
            organizer = settings.organizer
            language = TrackLanguage(organizer.languages, min_confidence=organizer.min_confidence)
            yield Services(
                settings,
                time,
                database,
                stack,
                tokens,
                users,
                sessions,
                login,
                insights=InsightService(database, provider, time),
                ranking=RankingService(database, time),
                songs=SongCatalog(database, stack.spotify),
                leaderboards=LeaderboardService(database, time, lock),
                recommendations=RecommendationService(stack.spotify, stack.reccobeats),
                organizer=OrganizerScan(database, stack, time, language=language),
            )
