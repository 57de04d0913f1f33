"""The simulated accounts service over HTTP, in-process through httpx.ASGITransport."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI, Request

from backbeat.clock import FakeClock
from backbeat.config import SimulatorSettings
from backbeat.simulator.accounts import Accounts, accounts_router, require_scope, require_user
from backbeat.simulator.errors import (
    AccountsError,
    SpotifyError,
    accounts_error_handler,
    spotify_error_handler,
)

APP_ID = "backbeat-dev"
APP_SECRET = "backbeat-dev-secret"
REDIRECT = "http://127.0.0.1:8080/callback"
VERIFIER = "a-code-verifier-of-at-least-forty-three-characters-0123456789"
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).decode()
CHALLENGE = CHALLENGE.rstrip("=")


class FakeUsers:
    def __init__(self, *user_ids: str) -> None:
        self._ids = user_ids

    def has_user(self, user_id: str) -> bool:
        return user_id in self._ids

    @property
    def default_user_id(self) -> str:
        return self._ids[0]


USERS = FakeUsers("alice", "bob", "u1", "u2", "u3", "u4", "u5", "u6")


def make_app(accounts: Accounts) -> FastAPI:
    app = FastAPI()
    app.state.accounts = accounts
    app.include_router(accounts_router())
    app.add_exception_handler(SpotifyError, spotify_error_handler)
    app.add_exception_handler(AccountsError, accounts_error_handler)

    # Stand-ins for Web API endpoints: any token, a user token, a user token with a scope.
    @app.get("/v1/tracks/{track_id}")
    async def track(request: Request, track_id: str) -> dict[str, str]:
        accounts.resolve(request.headers.get("authorization"))
        return {"id": track_id}

    @app.get("/v1/me")
    async def me(request: Request) -> dict[str, str]:
        return {"id": require_user(accounts.resolve(request.headers.get("authorization")))}

    @app.get("/v1/me/top/artists")
    async def top(request: Request) -> dict[str, str]:
        info = accounts.resolve(request.headers.get("authorization"))
        return {"id": require_scope(info, "user-top-read")}

    return app


@asynccontextmanager
async def served(
    settings: SimulatorSettings, clock: FakeClock
) -> AsyncIterator[tuple[Accounts, httpx.AsyncClient]]:
    accounts = Accounts(settings, clock, USERS)
    transport = httpx.ASGITransport(app=make_app(accounts))
    async with httpx.AsyncClient(transport=transport, base_url="http://accounts.test") as client:
        yield accounts, client


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def client(clock: FakeClock) -> AsyncIterator[httpx.AsyncClient]:
    async with served(SimulatorSettings(), clock) as (_, client):
        yield client


async def authorize(client: httpx.AsyncClient, **params: str) -> dict[str, list[str]]:
    """The query the simulator redirects back with."""
    query = {"client_id": APP_ID, "response_type": "code", "redirect_uri": REDIRECT, **params}
    response = await client.get("/authorize", params=query)
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(query["redirect_uri"])
    return parse_qs(urlsplit(location).query)


async def user_token(
    client: httpx.AsyncClient, *, pkce: bool = False, **params: str
) -> dict[str, Any]:
    """A user's token response by the authorization-code flow, with a secret or with PKCE."""
    if pkce:
        params |= {"code_challenge": CHALLENGE, "code_challenge_method": "S256"}
    code = (await authorize(client, **params))["code"][0]
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    if pkce:
        response = await client.post(
            "/api/token", data=data | {"client_id": APP_ID, "code_verifier": VERIFIER}
        )
    else:
        response = await client.post("/api/token", data=data, auth=(APP_ID, APP_SECRET))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_oauth_error(response: httpx.Response, error: str) -> None:
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == error
    assert body["error_description"]


def assert_api_error(response: httpx.Response, status: int, message: str) -> None:
    assert response.status_code == status
    assert response.json() == {"error": {"status": status, "message": message}}


# Client credentials


async def test_client_credentials_with_basic_auth(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/token", data={"grant_type": "client_credentials"}, auth=(APP_ID, APP_SECRET)
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == ""
    assert "refresh_token" not in body
    assert (await client.get("/v1/tracks/t1", headers=bearer(body["access_token"]))).json() == {
        "id": "t1"
    }


async def test_client_credentials_in_the_body(client: httpx.AsyncClient) -> None:
    data = {"grant_type": "client_credentials", "client_id": APP_ID, "client_secret": APP_SECRET}
    response = await client.post("/api/token", data=data)
    assert response.status_code == 200
    token = response.json()["access_token"]
    assert (await client.get("/v1/tracks/t1", headers=bearer(token))).status_code == 200


async def test_client_credentials_token_cannot_call_user_endpoints(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/api/token", data={"grant_type": "client_credentials"}, auth=(APP_ID, APP_SECRET)
    )
    me = await client.get("/v1/me", headers=bearer(response.json()["access_token"]))
    assert_api_error(me, 401, "Only valid bearer authentication supported")


async def test_wrong_secret_is_invalid_client(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/token", data={"grant_type": "client_credentials"}, auth=(APP_ID, "wrong")
    )
    assert_oauth_error(response, "invalid_client")


async def test_auto_register_keeps_the_first_secret(client: httpx.AsyncClient) -> None:
    data = {"grant_type": "client_credentials"}
    first = await client.post("/api/token", data=data, auth=("new-app", "s1"))
    assert first.status_code == 200
    assert (await client.post("/api/token", data=data, auth=("new-app", "s1"))).status_code == 200
    assert_oauth_error(
        await client.post("/api/token", data=data, auth=("new-app", "s2")), "invalid_client"
    )


async def test_unknown_client_without_auto_register(clock: FakeClock) -> None:
    async with served(SimulatorSettings(auto_register=False), clock) as (_, client):
        response = await client.post(
            "/api/token", data={"grant_type": "client_credentials"}, auth=("stranger", "s")
        )
        assert_oauth_error(response, "invalid_client")
        page = await client.get(
            "/authorize",
            params={"client_id": "stranger", "response_type": "code", "redirect_uri": REDIRECT},
        )
        assert page.status_code == 400
        assert "Invalid client" in page.text


# Authorization code


async def test_authorization_code_flow(client: httpx.AsyncClient) -> None:
    query = await authorize(client, scope="user-top-read user-read-private", state="xyz")
    assert query["state"] == ["xyz"]
    data = {"grant_type": "authorization_code", "code": query["code"][0], "redirect_uri": REDIRECT}
    response = await client.post("/api/token", data=data, auth=(APP_ID, APP_SECRET))
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == "user-read-private user-top-read"
    assert body["refresh_token"]
    me = await client.get("/v1/me", headers=bearer(body["access_token"]))
    assert me.json() == {"id": "alice"}


async def test_sim_user_chooses_who_consents(client: httpx.AsyncClient) -> None:
    token = (await user_token(client, sim_user="bob"))["access_token"]
    assert (await client.get("/v1/me", headers=bearer(token))).json() == {"id": "bob"}


async def test_code_is_single_use(client: httpx.AsyncClient) -> None:
    code = (await authorize(client))["code"][0]
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    first = await client.post("/api/token", data=data, auth=(APP_ID, APP_SECRET))
    assert first.status_code == 200
    again = await client.post("/api/token", data=data, auth=(APP_ID, APP_SECRET))
    assert_oauth_error(again, "invalid_grant")


async def test_redirect_uri_must_match(client: httpx.AsyncClient) -> None:
    code = (await authorize(client))["code"][0]
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT + "/x"}
    response = await client.post("/api/token", data=data, auth=(APP_ID, APP_SECRET))
    assert_oauth_error(response, "invalid_grant")
    assert response.json()["error_description"] == "Invalid redirect URI"


async def test_code_expires_after_ten_minutes(client: httpx.AsyncClient, clock: FakeClock) -> None:
    code = (await authorize(client))["code"][0]
    clock.advance(601)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    response = await client.post("/api/token", data=data, auth=(APP_ID, APP_SECRET))
    assert_oauth_error(response, "invalid_grant")


async def test_code_is_bound_to_its_client(client: httpx.AsyncClient) -> None:
    code = (await authorize(client))["code"][0]
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    response = await client.post("/api/token", data=data, auth=("other-app", "other-secret"))
    assert_oauth_error(response, "invalid_grant")


async def test_code_without_pkce_needs_the_secret(client: httpx.AsyncClient) -> None:
    code = (await authorize(client))["code"][0]
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "client_id": APP_ID,
    }
    assert_oauth_error(await client.post("/api/token", data=data), "invalid_client")


# PKCE


async def test_pkce_flow_needs_no_secret(client: httpx.AsyncClient) -> None:
    body = await user_token(client, pkce=True, scope="user-top-read")
    assert body["scope"] == "user-top-read"
    assert body["refresh_token"]
    top = await client.get("/v1/me/top/artists", headers=bearer(body["access_token"]))
    assert top.json() == {"id": "alice"}


@pytest.mark.parametrize(
    ("verifier", "error"),
    [("not-the-verifier-" + "x" * 40, "invalid_grant"), (None, "invalid_request")],
)
async def test_pkce_verifier_must_match(
    client: httpx.AsyncClient, verifier: str | None, error: str
) -> None:
    query = await authorize(client, code_challenge=CHALLENGE, code_challenge_method="S256")
    data = {
        "grant_type": "authorization_code",
        "code": query["code"][0],
        "redirect_uri": REDIRECT,
        "client_id": APP_ID,
    }
    if verifier is not None:
        data["code_verifier"] = verifier
    assert_oauth_error(await client.post("/api/token", data=data), error)


# Refresh


async def test_refresh_keeps_the_refresh_token_of_a_confidential_client(
    client: httpx.AsyncClient,
) -> None:
    body = await user_token(client, scope="user-top-read")
    data = {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]}
    for _ in range(2):
        response = await client.post("/api/token", data=data, auth=(APP_ID, APP_SECRET))
        assert response.status_code == 200
        refreshed = response.json()
        assert refreshed["refresh_token"] == body["refresh_token"]
        assert refreshed["access_token"] != body["access_token"]
        assert refreshed["scope"] == "user-top-read"
    # The earlier access token stays valid until it expires.
    assert (await client.get("/v1/me", headers=bearer(body["access_token"]))).status_code == 200


async def test_confidential_refresh_token_needs_the_secret(client: httpx.AsyncClient) -> None:
    body = await user_token(client)
    data = {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]}
    assert_oauth_error(
        await client.post("/api/token", data=data | {"client_id": APP_ID}), "invalid_client"
    )


async def test_pkce_refresh_rotates_the_refresh_token(client: httpx.AsyncClient) -> None:
    old = (await user_token(client, pkce=True))["refresh_token"]
    data = {"grant_type": "refresh_token", "refresh_token": old, "client_id": APP_ID}
    response = await client.post("/api/token", data=data)
    assert response.status_code == 200
    new = response.json()["refresh_token"]
    assert new != old
    me = await client.get("/v1/me", headers=bearer(response.json()["access_token"]))
    assert me.json() == {"id": "alice"}
    assert_oauth_error(await client.post("/api/token", data=data), "invalid_grant")
    again = await client.post("/api/token", data=data | {"refresh_token": new})
    assert again.status_code == 200


# Access tokens on the Web API


async def test_access_token_expires(client: httpx.AsyncClient, clock: FakeClock) -> None:
    token = (await user_token(client))["access_token"]
    clock.advance(3599)
    assert (await client.get("/v1/me", headers=bearer(token))).status_code == 200
    clock.advance(1)
    assert_api_error(
        await client.get("/v1/me", headers=bearer(token)), 401, "The access token expired"
    )


async def test_expiry_follows_the_time_scale(clock: FakeClock) -> None:
    async with served(SimulatorSettings(time_scale=60), clock) as (_, client):
        body = await user_token(client)
        assert body["expires_in"] == 60
        clock.advance(60)
        me = await client.get("/v1/me", headers=bearer(body["access_token"]))
        assert_api_error(me, 401, "The access token expired")


async def test_development_mode_serves_only_the_first_users(clock: FakeClock) -> None:
    settings = SimulatorSettings(mode="development")
    async with served(settings, clock) as (_, client):
        tokens = {
            user: (await user_token(client, sim_user=user))["access_token"]
            for user in ["u1", "u2", "u3", "u4", "u5", "u6"]
        }
        for user in ["u1", "u2", "u3", "u4", "u5"]:
            me = await client.get("/v1/me", headers=bearer(tokens[user]))
            assert me.json() == {"id": user}
        assert_api_error(
            await client.get("/v1/me", headers=bearer(tokens["u6"])),
            403,
            "User not registered in the Developer Dashboard",
        )
        # Re-authorizing does not displace anyone.
        again = (await user_token(client, sim_user="u6"))["access_token"]
        assert (await client.get("/v1/me", headers=bearer(again))).status_code == 403


async def test_extended_mode_serves_any_user(client: httpx.AsyncClient) -> None:
    for user in ["u1", "u2", "u3", "u4", "u5", "u6"]:
        token = (await user_token(client, sim_user=user))["access_token"]
        assert (await client.get("/v1/me", headers=bearer(token))).json() == {"id": user}


async def test_scope_is_checked(client: httpx.AsyncClient) -> None:
    narrow = (await user_token(client, scope="user-read-private"))["access_token"]
    assert_api_error(
        await client.get("/v1/me/top/artists", headers=bearer(narrow)),
        403,
        "Insufficient client scope",
    )
    wide = (await user_token(client, scope="user-read-private user-top-read"))["access_token"]
    assert (await client.get("/v1/me/top/artists", headers=bearer(wide))).status_code == 200


@pytest.mark.parametrize(
    ("headers", "status", "message"),
    [
        ({}, 401, "No token provided"),
        ({"Authorization": "Bearer "}, 401, "No token provided"),
        ({"Authorization": "Bearer not-a-token"}, 401, "Invalid access token"),
        ({"Authorization": "Basic abc"}, 400, "Only valid bearer authentication supported"),
    ],
)
async def test_bad_bearer_headers(
    client: httpx.AsyncClient, headers: dict[str, str], status: int, message: str
) -> None:
    assert_api_error(await client.get("/v1/tracks/t1", headers=headers), status, message)


async def test_reset_forgets_tokens(clock: FakeClock) -> None:
    async with served(SimulatorSettings(), clock) as (accounts, client):
        token = (await user_token(client))["access_token"]
        accounts.reset()
        me = await client.get("/v1/me", headers=bearer(token))
        assert_api_error(me, 401, "Invalid access token")


# Bad input: always a 400 with a message, never a 500


async def test_authorize_errors_without_a_redirect(client: httpx.AsyncClient) -> None:
    for params in [{"redirect_uri": REDIRECT}, {"client_id": APP_ID}]:
        response = await client.get("/authorize", params={"response_type": "code", **params})
        assert response.status_code == 400
        assert response.text.startswith("INVALID_CLIENT")


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"code_challenge": CHALLENGE, "code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": "S256"}, "invalid_request"),
        ({"sim_user": "nobody"}, "access_denied"),
    ],
)
async def test_authorize_errors_redirect_back(
    client: httpx.AsyncClient, params: dict[str, str], error: str
) -> None:
    query = await authorize(client, state="s1", **params)
    assert query == {"error": [error], "state": ["s1"]}


async def test_authorize_keeps_the_redirect_uri_query(client: httpx.AsyncClient) -> None:
    query = await authorize(client, redirect_uri=REDIRECT + "?app=1")
    assert query["app"] == ["1"]
    assert query["code"]


def basic(raw: bytes) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


@pytest.mark.parametrize(
    ("data", "headers", "error"),
    [
        ({}, {}, "unsupported_grant_type"),
        ({"grant_type": "password"}, {}, "unsupported_grant_type"),
        ({"grant_type": "client_credentials"}, {}, "invalid_client"),
        ({"grant_type": "client_credentials"}, {"Authorization": "Basic !!!"}, "invalid_client"),
        ({"grant_type": "client_credentials"}, {"Authorization": "Bearer x"}, "invalid_client"),
        ({"grant_type": "client_credentials"}, basic(b"no-colon"), "invalid_client"),
        ({"grant_type": "client_credentials"}, basic(b"\xff\xfe:\xff"), "invalid_client"),
        ({"grant_type": "client_credentials"}, basic(APP_ID.encode() + b":"), "invalid_client"),
        ({"grant_type": "authorization_code"}, basic(b"backbeat-dev:x"), "invalid_client"),
        (
            {"grant_type": "authorization_code", "redirect_uri": REDIRECT},
            basic(f"{APP_ID}:{APP_SECRET}".encode()),
            "invalid_request",
        ),
        (
            {"grant_type": "authorization_code", "code": "nope", "redirect_uri": REDIRECT},
            basic(f"{APP_ID}:{APP_SECRET}".encode()),
            "invalid_grant",
        ),
        (
            {"grant_type": "authorization_code", "code": "nope"},
            basic(f"{APP_ID}:{APP_SECRET}".encode()),
            "invalid_request",
        ),
        (
            {"grant_type": "refresh_token"},
            basic(f"{APP_ID}:{APP_SECRET}".encode()),
            "invalid_request",
        ),
        (
            {"grant_type": "refresh_token", "refresh_token": "nope"},
            basic(f"{APP_ID}:{APP_SECRET}".encode()),
            "invalid_grant",
        ),
        ({"grant_type": "refresh_token", "refresh_token": "nope"}, {}, "invalid_client"),
    ],
)
async def test_bad_token_requests(
    client: httpx.AsyncClient, data: dict[str, str], headers: dict[str, str], error: str
) -> None:
    assert_oauth_error(await client.post("/api/token", data=data, headers=headers), error)


async def test_token_request_that_is_not_a_form(client: httpx.AsyncClient) -> None:
    as_json = await client.post("/api/token", json={"grant_type": "client_credentials"})
    assert_oauth_error(as_json, "unsupported_grant_type")
    broken = await client.post(
        "/api/token",
        content=b"--b\r\nContent-Disposition: form-data\r\n\r\nno end",
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )
    assert broken.status_code == 400
    assert broken.json()["error_description"]
