"""A local accounts.spotify.com: `/authorize` and `/api/token`, and the bearer check of the Web API.

Faithful enough for spotipy's SpotifyClientCredentials, SpotifyOAuth and SpotifyPKCE; error bodies
and messages follow what Spotify answers, including its 400 (not 401) for `invalid_client`.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException

from backbeat.clock import Clock
from backbeat.config import SimulatorSettings
from backbeat.simulator.errors import AccountsError, SpotifyError
from backbeat.simulator.tokens import (
    AppRegistry,
    RefreshGrant,
    TokenInfo,
    TokenStore,
    require_scope,
    require_user,
)

__all__ = [
    "Accounts",
    "IssuedToken",
    "TokenInfo",
    "UserDirectory",
    "accounts_router",
    "require_scope",
    "require_user",
]

CODE_LIFETIME = 600.0  # simulated seconds an authorization code stays redeemable


class UserDirectory(Protocol):
    """The simulated users who can consent at `/authorize` (the catalog implements it)."""

    def has_user(self, user_id: str) -> bool: ...

    @property
    def default_user_id(self) -> str: ...


@dataclass(frozen=True)
class IssuedToken:
    info: TokenInfo
    refresh_token: str | None


class Accounts:
    """App registry, grants and tokens of the simulated accounts service (in memory)."""

    def __init__(self, settings: SimulatorSettings, clock: Clock, users: UserDirectory) -> None:
        self.settings = settings
        self.users = users
        self._clock = clock
        self._store = TokenStore(
            clock,
            code_ttl=settings.scaled(CODE_LIFETIME),
            token_ttl=settings.scaled(settings.token_expiry),
        )
        self._apps = AppRegistry(settings.apps, auto_register=settings.auto_register)
        # Per app, the first `development_users` users to authorize it: development mode serves
        # only them, the way Spotify serves only the users added in the Developer Dashboard.
        self._dev_users: dict[str, set[str]] = {}

    @property
    def expires_in(self) -> int:
        return max(1, round(self.settings.scaled(self.settings.token_expiry)))

    def reset(self) -> None:
        self._store.clear()
        self._apps = AppRegistry(self.settings.apps, auto_register=self.settings.auto_register)
        self._dev_users.clear()

    def admit_client(self, client_id: str) -> bool:
        """Whether `/authorize` may proceed for this client id, registering it if auto_register."""
        return self._apps.admit(client_id)

    def authorize(
        self,
        client_id: str,
        redirect_uri: str,
        user_id: str,
        scopes: frozenset[str],
        code_challenge: str | None,
    ) -> str:
        """The user's consent, given automatically: returns an authorization code."""
        allowed = self._dev_users.setdefault(client_id, set())
        if len(allowed) < self.settings.development_users:
            allowed.add(user_id)
        return self._store.add_code(
            client_id=client_id,
            redirect_uri=redirect_uri,
            user_id=user_id,
            scopes=scopes,
            code_challenge=code_challenge,
        )

    def client_credentials(self, client_id: str | None, secret: str | None) -> IssuedToken:
        app = self._apps.authenticate(client_id, secret)
        return IssuedToken(self._store.issue(app, None, frozenset()), None)

    def exchange_code(
        self,
        client_id: str | None,
        secret: str | None,
        code: str | None,
        redirect_uri: str | None,
        code_verifier: str | None,
    ) -> IssuedToken:
        public = secret is None  # a PKCE client presents its id alone
        app = self._apps.public(client_id) if public else self._apps.authenticate(client_id, secret)
        if not code:
            raise AccountsError("invalid_request", "code must be supplied")
        if not redirect_uri:
            raise AccountsError("invalid_request", "redirect_uri must be supplied")
        grant = self._store.take_code(code)
        if grant is None or grant.client_id != app:
            raise AccountsError("invalid_grant", "Invalid authorization code")
        if grant.expires_at <= self._clock.time():
            raise AccountsError("invalid_grant", "Authorization code expired")
        if grant.redirect_uri != redirect_uri:
            raise AccountsError("invalid_grant", "Invalid redirect URI")
        if grant.code_challenge is None:
            if public:
                raise AccountsError("invalid_client", "Invalid client secret")
        elif not code_verifier:
            raise AccountsError("invalid_request", "code_verifier required")
        elif _s256(code_verifier) != grant.code_challenge:
            raise AccountsError("invalid_grant", "code_verifier was incorrect")
        refresh = RefreshGrant(app, grant.user_id, grant.scopes, grant.code_challenge is not None)
        info = self._store.issue(app, grant.user_id, grant.scopes)
        return IssuedToken(info, self._store.add_refresh(refresh))

    def refresh(
        self, client_id: str | None, secret: str | None, refresh_token: str | None
    ) -> IssuedToken:
        public = secret is None
        app = self._apps.public(client_id) if public else self._apps.authenticate(client_id, secret)
        if not refresh_token:
            raise AccountsError("invalid_request", "refresh_token must be supplied")
        grant = self._store.refresh_grant(refresh_token)
        if grant is None or grant.client_id != app:
            raise AccountsError("invalid_grant", "Invalid refresh token")
        if public and not grant.pkce:
            raise AccountsError("invalid_client", "Invalid client secret")
        if grant.pkce:  # PKCE refresh tokens are single use: the old one stops working
            self._store.revoke_refresh(refresh_token)
            refresh_token = self._store.add_refresh(grant)
        info = self._store.issue(app, grant.user_id, grant.scopes)
        return IssuedToken(info, refresh_token)

    def revoke_user(self, user_id: str) -> tuple[int, int]:
        """Revoke every token of the user: (access tokens, refresh tokens) revoked."""
        return self._store.revoke_user(user_id)

    def resolve(self, authorization: str | None) -> TokenInfo:
        """The grant behind an `Authorization: Bearer …` header, or the Web API's error."""
        scheme, _, token = (authorization or "").strip().partition(" ")
        if not scheme:
            raise SpotifyError(401, "No token provided")
        if scheme.lower() != "bearer":
            raise SpotifyError(400, "Only valid bearer authentication supported")
        token = token.strip()
        if not token:
            raise SpotifyError(401, "No token provided")
        info = self._store.token(token)
        if info is None:
            raise SpotifyError(401, "Invalid access token")
        if info.expires_at <= self._clock.time():
            raise SpotifyError(401, "The access token expired")
        if (
            self.settings.mode == "development"
            and info.user_id is not None
            and info.user_id not in self._dev_users.get(info.client_id, ())
        ):
            raise SpotifyError(403, "User not registered in the Developer Dashboard")
        return info


def accounts_router() -> APIRouter:
    """`GET /authorize` and `POST /api/token`, serving the `Accounts` at `app.state.accounts`."""
    router = APIRouter(tags=["accounts"])
    router.add_api_route("/authorize", _authorize, methods=["GET"], response_class=Response)
    router.add_api_route("/api/token", _token, methods=["POST"], response_class=JSONResponse)
    return router


async def _authorize(
    request: Request,
    client_id: str | None = None,
    response_type: str | None = None,
    redirect_uri: str | None = None,
    state: str | None = None,
    scope: str | None = None,
    code_challenge: str | None = None,
    code_challenge_method: str | None = None,
    sim_user: str | None = None,  # simulator only: which simulated user consents
) -> Response:
    # show_dialog is accepted and ignored: simulated users consent without a dialog.
    accounts = _accounts(request)
    # Spotify shows an error page instead of redirecting while it cannot trust the redirect URI.
    if not client_id or not accounts.admit_client(client_id):
        return PlainTextResponse("INVALID_CLIENT: Invalid client", status_code=400)
    if not redirect_uri or not urlsplit(redirect_uri).scheme:
        return PlainTextResponse("INVALID_CLIENT: Invalid redirect URI", status_code=400)
    if response_type != "code":
        return _redirect(redirect_uri, state, error="unsupported_response_type")
    if (code_challenge or code_challenge_method) and (
        code_challenge_method != "S256" or not code_challenge
    ):
        return _redirect(redirect_uri, state, error="invalid_request")
    user_id = sim_user or accounts.users.default_user_id
    if not accounts.users.has_user(user_id):
        return _redirect(redirect_uri, state, error="access_denied")
    scopes = frozenset((scope or "").split())
    code = accounts.authorize(client_id, redirect_uri, user_id, scopes, code_challenge or None)
    return _redirect(redirect_uri, state, code=code)


async def _token(request: Request) -> JSONResponse:
    accounts = _accounts(request)
    try:
        async with request.form() as form:
            fields = {k: v for k, v in form.items() if isinstance(v, str) and v}
    except (HTTPException, ValueError) as exc:  # a malformed multipart body
        raise AccountsError("invalid_request", "Malformed request body") from exc
    grant_type = fields.get("grant_type")
    if grant_type is None:
        raise AccountsError("unsupported_grant_type", "grant_type parameter is missing")
    client_id, secret = _client(request.headers.get("authorization"), fields)
    if grant_type == "client_credentials":
        issued = accounts.client_credentials(client_id, secret)
    elif grant_type == "authorization_code":
        issued = accounts.exchange_code(
            client_id,
            secret,
            fields.get("code"),
            fields.get("redirect_uri"),
            fields.get("code_verifier"),
        )
    elif grant_type == "refresh_token":
        issued = accounts.refresh(client_id, secret, fields.get("refresh_token"))
    else:
        raise AccountsError(
            "unsupported_grant_type",
            "grant_type must be client_credentials, authorization_code or refresh_token",
        )
    body: dict[str, Any] = {
        "access_token": issued.info.access_token,
        "token_type": "Bearer",
        "expires_in": accounts.expires_in,
        "scope": " ".join(sorted(issued.info.scopes)),
    }
    if issued.refresh_token is not None:
        body["refresh_token"] = issued.refresh_token
    return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


def _accounts(request: Request) -> Accounts:
    accounts: Accounts = request.app.state.accounts
    return accounts


def _client(authorization: str | None, fields: dict[str, str]) -> tuple[str | None, str | None]:
    """Client id and secret, from HTTP Basic if present, else from the body."""
    if authorization is None:
        return fields.get("client_id"), fields.get("client_secret")
    scheme, _, encoded = authorization.strip().partition(" ")
    try:
        if scheme.lower() != "basic":
            raise ValueError(scheme)
        # binascii.Error and UnicodeDecodeError are both ValueErrors.
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except ValueError:
        raise AccountsError("invalid_client", "Invalid client") from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise AccountsError("invalid_client", "Invalid client")
    return client_id or None, secret or None


def _redirect(uri: str, state: str | None, **params: str) -> RedirectResponse:
    if state is not None:
        params["state"] = state
    parts = urlsplit(uri)
    query = [*parse_qsl(parts.query, keep_blank_values=True), *params.items()]
    return RedirectResponse(urlunsplit(parts._replace(query=urlencode(query))), status_code=302)


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
