"""The simulator as one FastAPI app: Web API under `/v1`, accounts at `/authorize` and
`/api/token`, ReccoBeats under `/reccobeats/v1`, and its own controls under `/_sim`."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from backbeat.clock import Clock, SystemClock
from backbeat.config import SimulatorSettings
from backbeat.simulator import (
    api_catalog,
    api_features,
    api_me,
    api_playlists,
    control,
    reccobeats,
    timeline,
)
from backbeat.simulator.accounts import accounts_router
from backbeat.simulator.errors import (
    AccountsError,
    SpotifyError,
    accounts_error_handler,
    spotify_error_handler,
)
from backbeat.simulator.middleware import SimulatorMiddleware
from backbeat.simulator.state import Simulator


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    message = "Service not found" if exc.status_code == 404 else str(exc.detail)
    return JSONResponse(SpotifyError(exc.status_code, message).body(), status_code=exc.status_code)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(part) for part in first.get("loc", ()))
    return JSONResponse(
        SpotifyError(400, f"Invalid {where}: {first.get('msg', 'bad request')}").body(),
        status_code=400,
    )


def create_app(settings: SimulatorSettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or SimulatorSettings()
    simulator = Simulator.build(settings, clock or SystemClock())
    app = FastAPI(
        title="backbeat simulator", docs_url="/_sim/docs", openapi_url="/_sim/openapi.json"
    )
    app.state.simulator = simulator
    app.state.accounts = simulator.accounts
    app.add_exception_handler(SpotifyError, spotify_error_handler)
    app.add_exception_handler(AccountsError, accounts_error_handler)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_middleware(SimulatorMiddleware, stats=simulator.stats)
    for module in (api_catalog, api_features, api_me, api_playlists, reccobeats, control, timeline):
        app.include_router(module.router)
    app.include_router(accounts_router())
    return app
