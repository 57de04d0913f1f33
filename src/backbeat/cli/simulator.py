"""`backbeat simulator …`: run the local Spotify + ReccoBeats."""

from __future__ import annotations

from typing import Annotated, Any

import typer
import uvicorn
from pydantic import ValidationError

from backbeat.config import AppMode, RetryAfterMode, Settings, SimulatorSettings, WindowLimit

app = typer.Typer(help="The local Spotify Web API, accounts service and ReccoBeats.")


def simulator_settings(overrides: dict[str, Any]) -> SimulatorSettings:
    """Environment/.env settings with the options given on the command line on top."""
    base = Settings().simulator.model_dump()
    given = {name: value for name, value in overrides.items() if value is not None}
    try:
        return SimulatorSettings.model_validate({**base, **given})
    except ValidationError as error:
        raise typer.BadParameter(str(error)) from None


def _endpoint_limits(values: list[str] | None) -> dict[str, WindowLimit] | None:
    if not values:
        return None
    limits = {}
    for value in values:
        name, sep, rule = value.partition("=")
        if not sep or not name:
            raise typer.BadParameter(f"expected NAME=COUNT/SECONDS, got {value!r}")
        try:
            limits[name] = WindowLimit.parse(rule)
        except ValueError as error:
            raise typer.BadParameter(str(error)) from None
    return limits


def _apps(values: list[str] | None) -> dict[str, str] | None:
    if not values:
        return None
    apps = {}
    for value in values:
        client_id, sep, secret = value.partition(":")
        if not sep or not client_id or not secret:
            raise typer.BadParameter(f"expected CLIENT_ID:SECRET, got {value!r}")
        apps[client_id] = secret
    return apps


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    seed: Annotated[int | None, typer.Option(help="Catalog seed.")] = None,
    artists: Annotated[int | None, typer.Option(help="Artists in the catalog.")] = None,
    users: Annotated[int | None, typer.Option(help="Simulated users.")] = None,
    mode: Annotated[AppMode | None, typer.Option(help="App quota mode.")] = None,
    time_scale: Annotated[
        float | None, typer.Option(help="Divide every period (window, Retry-After, ...) by S.")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Requests per rolling window per app.")] = None,
    window: Annotated[float | None, typer.Option(help="Rolling window in seconds.")] = None,
    endpoint_limit: Annotated[
        list[str] | None, typer.Option(help="Per-endpoint limit NAME=COUNT/SECONDS (repeat).")
    ] = None,
    daily_quota: Annotated[int | None, typer.Option(help="Requests per day; 0 = none.")] = None,
    cooldown_growth: Annotated[
        float | None, typer.Option(help="Cooldown factor when an app calls while limited.")
    ] = None,
    cooldown_max: Annotated[float | None, typer.Option(help="Longest cooldown (s).")] = None,
    retry_after_mode: Annotated[
        RetryAfterMode | None, typer.Option(help="How honest Retry-After is.")
    ] = None,
    error_rate: Annotated[float | None, typer.Option(help="Share of injected 5xx.")] = None,
    timeout_rate: Annotated[float | None, typer.Option(help="Share of hung requests.")] = None,
    timeout_seconds: Annotated[float | None, typer.Option(help="How long a hang lasts.")] = None,
    latency_ms: Annotated[float | None, typer.Option(help="Median latency (ms).")] = None,
    latency_sigma: Annotated[float | None, typer.Option(help="Log-normal latency spread.")] = None,
    token_expiry: Annotated[int | None, typer.Option(help="Access token lifetime (s).")] = None,
    development_users: Annotated[
        int | None, typer.Option(help="Users per app in development mode.")
    ] = None,
    reccobeats_limit: Annotated[
        int | None, typer.Option(help="ReccoBeats requests/window.")
    ] = None,
    reccobeats_window: Annotated[float | None, typer.Option(help="ReccoBeats window (s).")] = None,
    register_app: Annotated[
        list[str] | None, typer.Option(help="Registered app CLIENT_ID:SECRET (repeat).")
    ] = None,
) -> None:
    """Serve the simulator over HTTP until interrupted."""
    from backbeat.simulator import create_app

    overrides = {
        name: value
        for name, value in locals().items()
        if name not in ("endpoint_limit", "register_app", "create_app")
    }
    overrides["endpoint_limits"] = _endpoint_limits(endpoint_limit)
    overrides["apps"] = _apps(register_app)
    settings = simulator_settings(overrides)
    typer.echo(
        f"simulator on http://{settings.host}:{settings.port}  mode={settings.mode} "
        f"limit={settings.limit}/{settings.window:g}s time_scale={settings.time_scale:g}"
    )
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="warning")
