"""Helpers for tests that talk to the simulator in-process."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx

CLIENT_ID, CLIENT_SECRET = "backbeat-dev", "backbeat-dev-secret"
ALL_SCOPES = (
    "user-top-read user-read-recently-played user-library-read playlist-read-private "
    "playlist-modify-public playlist-modify-private user-read-private user-read-email"
)
REDIRECT = "http://127.0.0.1:9/callback"


def basic(client_id: str = CLIENT_ID, secret: str = CLIENT_SECRET) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


async def app_token(client: httpx.AsyncClient, client_id: str = CLIENT_ID) -> str:
    response = await client.post(
        "/api/token", data={"grant_type": "client_credentials"}, headers=basic(client_id)
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def user_token(
    client: httpx.AsyncClient, user: str = "user0000", client_id: str = CLIENT_ID
) -> str:
    token: str = (await user_grant(client, user, client_id))["access_token"]
    return token


async def user_grant(
    client: httpx.AsyncClient, user: str = "user0000", client_id: str = CLIENT_ID
) -> dict[str, Any]:
    """The whole token answer of an authorization-code login (access and refresh token)."""
    response = await client.get(
        "/authorize",
        params={
            "client_id": client_id,
            "response_type": "code",
            "redirect_uri": REDIRECT,
            "scope": ALL_SCOPES,
            "state": "xyz",
            "sim_user": user,
        },
    )
    assert response.status_code in (302, 303, 307), response.text
    code = parse_qs(urlparse(response.headers["location"]).query)["code"][0]
    response = await client.post(
        "/api/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
        headers=basic(client_id),
    )
    assert response.status_code == 200, response.text
    grant: dict[str, Any] = response.json()
    return grant


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
