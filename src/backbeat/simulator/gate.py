"""The way into every simulated Web API call: token → rate enforcement → faults → mode → scope.

Each route declares its endpoint name and operation class through `spotify_call(...)`; the stats
middleware reads what the gate stored on the request to count the final status.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request

from backbeat.simulator.errors import SpotifyError
from backbeat.simulator.objects import Renderer
from backbeat.simulator.state import RECCOBEATS_APP, Simulator, simulator_of
from backbeat.simulator.stats import OpClass
from backbeat.simulator.tokens import TokenInfo, require_scope, require_user


@dataclass(frozen=True)
class CallRecord:
    app: str
    endpoint: str
    op_class: OpClass


@dataclass(frozen=True)
class Caller:
    """What a route needs: the simulator, the caller's token and a renderer for its base URL."""

    sim: Simulator
    token: TokenInfo
    render: Renderer

    @property
    def user_id(self) -> str:
        return require_user(self.token)


def api_base(request: Request) -> str:
    return f"{str(request.base_url).rstrip('/')}/v1"


def spotify_call(
    endpoint: str,
    op_class: OpClass = "read",
    *,
    extended_only: bool = False,
    scope: str | None = None,
    user: bool = False,
) -> Callable[[Request], Awaitable[Caller]]:
    """A FastAPI dependency admitting one call of `endpoint` (a name used in stats and limits)."""

    async def admit(request: Request) -> Caller:
        sim = simulator_of(request)
        token = sim.accounts.resolve(request.headers.get("authorization"))
        request.state.sim_call = CallRecord(token.client_id, endpoint, op_class)
        sim.spotify_limits.admit(token.client_id, endpoint, op_class)
        await sim.faults.inject()
        sim.faults.targeted(endpoint)
        if extended_only and sim.settings.mode == "development":
            # Removed for development-mode apps (Feb 2026 and Nov 2024 changes).
            raise SpotifyError(403, "This endpoint is not available for development mode apps")
        if user or scope:
            require_user(token)
        if scope:
            require_scope(token, scope)
        return Caller(sim, token, Renderer(sim.catalog, api_base(request)))

    return admit


def reccobeats_call(endpoint: str) -> Callable[[Request], Awaitable[Simulator]]:
    """ReccoBeats needs no key: every caller shares one budget."""

    async def admit(request: Request) -> Simulator:
        sim = simulator_of(request)
        request.state.sim_call = CallRecord(RECCOBEATS_APP, endpoint, "read")
        sim.reccobeats_limits.admit(RECCOBEATS_APP, endpoint, "read")
        await sim.faults.inject()
        return sim

    return admit
