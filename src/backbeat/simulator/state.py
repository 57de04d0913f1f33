"""Everything one simulator instance holds, built from settings and a clock."""

from __future__ import annotations

import random
from dataclasses import dataclass

from fastapi import Request

from backbeat.clock import Clock
from backbeat.config import SimulatorSettings
from backbeat.simulator.accounts import Accounts
from backbeat.simulator.catalog import Catalog
from backbeat.simulator.enforcement import EnforcementPolicy, Enforcer
from backbeat.simulator.faults import Faults
from backbeat.simulator.likes import LikeStore
from backbeat.simulator.playlists import PlaylistStore
from backbeat.simulator.search import SearchIndex
from backbeat.simulator.stats import Stats
from backbeat.simulator.users import Users

RECCOBEATS_APP = "reccobeats"


@dataclass
class Simulator:
    settings: SimulatorSettings
    clock: Clock
    catalog: Catalog
    users: Users
    playlists: PlaylistStore
    search: SearchIndex
    accounts: Accounts
    stats: Stats
    spotify_limits: Enforcer
    reccobeats_limits: Enforcer
    faults: Faults
    likes: LikeStore

    @classmethod
    def build(cls, settings: SimulatorSettings, clock: Clock) -> Simulator:
        catalog = Catalog(settings.seed, settings.artists)
        users = Users(catalog, settings.users, zipf=settings.taste_zipf)
        stats = Stats(settings.time_scale, limit=settings.limit, window=settings.window)
        recco = EnforcementPolicy.reccobeats(settings)
        stats.configure(RECCOBEATS_APP, limit=recco.limit, window=recco.window)
        return cls(
            settings=settings,
            clock=clock,
            catalog=catalog,
            users=users,
            playlists=PlaylistStore(users, settings.seed),
            search=SearchIndex(catalog),
            accounts=Accounts(settings, clock, users),
            stats=stats,
            spotify_limits=Enforcer(EnforcementPolicy.spotify(settings), clock, stats),
            reccobeats_limits=Enforcer(recco, clock, stats),
            faults=Faults(settings, clock, random.Random(settings.seed)),
            likes=LikeStore(),
        )

    def reset(self) -> None:
        """Forget traffic, tokens, created playlists, added likes, targeted faults and a changed
        limit; the catalog stays (it is derived)."""
        self.spotify_limits.set_limit(self.settings.limit)  # undo `POST /_sim/limit`
        self.stats.reset()
        self.spotify_limits.reset()
        self.reccobeats_limits.reset()
        self.accounts.reset()
        self.playlists.reset()
        self.likes.reset()
        self.faults.clear_targets()


def simulator_of(request: Request) -> Simulator:
    simulator: Simulator = request.app.state.simulator
    return simulator
