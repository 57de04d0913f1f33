"""A simulated user's consent, exchanged for tokens: what a browser and a callback would do in
the authorization-code flow, for tools that need many logged-in users (the demo, benchmarks)."""

from __future__ import annotations

from typing import Any

import httpx

REDIRECT = "http://127.0.0.1:9/callback"


async def consent(
    sim: httpx.AsyncClient, user: str, app: tuple[str, str], scopes: str, redirect: str = REDIRECT
) -> dict[str, Any]:
    """The token answer (`access_token`, `refresh_token`, `expires_in`, `scope`) for `user`
    consenting to `app` (client id, secret); `sim` is a client on the simulator's base URL."""
    params = {
        "client_id": app[0],
        "response_type": "code",
        "sim_user": user,
        "redirect_uri": redirect,
        "state": "consent",
        "scope": scopes,
    }
    answer = await sim.get("/authorize", params=params)
    code = httpx.URL(answer.headers["location"]).params["code"]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect}
    granted = await sim.post("/api/token", data=form, auth=app)
    granted.raise_for_status()
    body: dict[str, Any] = granted.json()
    return body
