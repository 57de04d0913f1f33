"""The records of the simulated accounts service: registered apps, and what tokens grant.

The store holds authorization codes, access tokens and refresh tokens with expiry times on the
injected clock; the OAuth flows that use them live in `accounts`.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from backbeat.clock import Clock
from backbeat.simulator.errors import AccountsError, SpotifyError


@dataclass(frozen=True)
class TokenInfo:
    """What an access token grants; `user_id` is None for a client-credentials token."""

    access_token: str
    client_id: str
    user_id: str | None
    scopes: frozenset[str]
    expires_at: float


def require_user(info: TokenInfo) -> str:
    """The user behind a token, for endpoints a client-credentials token cannot call."""
    if info.user_id is None:
        raise SpotifyError(401, "Only valid bearer authentication supported")
    return info.user_id


def require_scope(info: TokenInfo, scope: str) -> str:
    """The user behind a token that must carry `scope`."""
    user_id = require_user(info)
    if scope not in info.scopes:
        raise SpotifyError(403, "Insufficient client scope")
    return user_id


@dataclass(frozen=True)
class AuthorizationCode:
    client_id: str
    redirect_uri: str
    user_id: str
    scopes: frozenset[str]
    code_challenge: str | None
    expires_at: float


@dataclass(frozen=True)
class RefreshGrant:
    client_id: str
    user_id: str
    scopes: frozenset[str]
    # Issued through PKCE: refreshable by client id alone, and rotated on every use.
    pkce: bool


class AppRegistry:
    """Client ids and secrets; with auto_register an unknown app joins with its first secret."""

    def __init__(self, apps: Mapping[str, str], *, auto_register: bool) -> None:
        # None: admitted at /authorize, and no secret presented yet (a PKCE app never presents one).
        self._secrets: dict[str, str | None] = dict(apps)
        self._auto_register = auto_register

    def admit(self, client_id: str) -> bool:
        if client_id not in self._secrets and self._auto_register:
            self._secrets[client_id] = None
        return client_id in self._secrets

    def authenticate(self, client_id: str | None, secret: str | None) -> str:
        """A confidential client: its id and secret must match."""
        if not client_id or not secret or not self.admit(client_id):
            raise AccountsError("invalid_client", "Invalid client")
        known = self._secrets[client_id]
        if known is None:
            self._secrets[client_id] = secret
        elif known != secret:
            raise AccountsError("invalid_client", "Invalid client secret")
        return client_id

    def public(self, client_id: str | None) -> str:
        """A public (PKCE) client: only its id, which /authorize must have seen."""
        if not client_id or client_id not in self._secrets:
            raise AccountsError("invalid_client", "Invalid client")
        return client_id


class TokenStore:
    """Opaque random strings mapped to what they grant."""

    def __init__(self, clock: Clock, *, code_ttl: float, token_ttl: float) -> None:
        self._clock = clock
        self._code_ttl = code_ttl
        self._token_ttl = token_ttl
        self._codes: dict[str, AuthorizationCode] = {}
        self._tokens: dict[str, TokenInfo] = {}
        self._refresh: dict[str, RefreshGrant] = {}
        self._prune_at = _PRUNE_MIN

    def clear(self) -> None:
        self._codes.clear()
        self._tokens.clear()
        self._refresh.clear()
        self._prune_at = _PRUNE_MIN

    def add_code(
        self,
        *,
        client_id: str,
        redirect_uri: str,
        user_id: str,
        scopes: frozenset[str],
        code_challenge: str | None,
    ) -> str:
        now = self._clock.time()
        if len(self._codes) >= _PRUNE_MIN:  # codes nobody redeems would pile up forever
            self._codes = {k: c for k, c in self._codes.items() if c.expires_at > now}
        code = "AQ" + secrets.token_urlsafe(32)
        self._codes[code] = AuthorizationCode(
            client_id, redirect_uri, user_id, scopes, code_challenge, now + self._code_ttl
        )
        return code

    def take_code(self, code: str) -> AuthorizationCode | None:
        """Single use: a code is gone once presented, whether or not the exchange succeeds."""
        return self._codes.pop(code, None)

    def issue(self, client_id: str, user_id: str | None, scopes: frozenset[str]) -> TokenInfo:
        if len(self._tokens) >= self._prune_at:
            self._prune()
        access_token = "BQ" + secrets.token_urlsafe(48)
        info = TokenInfo(
            access_token, client_id, user_id, scopes, self._clock.time() + self._token_ttl
        )
        self._tokens[access_token] = info
        return info

    def token(self, access_token: str) -> TokenInfo | None:
        return self._tokens.get(access_token)

    def add_refresh(self, grant: RefreshGrant) -> str:
        refresh_token = "AQ" + secrets.token_urlsafe(48)
        self._refresh[refresh_token] = grant
        return refresh_token

    def refresh_grant(self, refresh_token: str) -> RefreshGrant | None:
        return self._refresh.get(refresh_token)

    def revoke_refresh(self, refresh_token: str) -> None:
        self._refresh.pop(refresh_token, None)

    def revoke_user(self, user_id: str) -> tuple[int, int]:
        """Every access and refresh token of the user, of any app, stops working at once (the
        user removed the app's access, or changed their password); returns how many of each."""
        access = [k for k, info in self._tokens.items() if info.user_id == user_id]
        refresh = [k for k, grant in self._refresh.items() if grant.user_id == user_id]
        for key in access:
            del self._tokens[key]
        for key in refresh:
            del self._refresh[key]
        return len(access), len(refresh)

    def _prune(self) -> None:
        # Keep recently expired tokens a while so clients still read "expired", not "invalid";
        # the threshold doubles so pruning stays amortised O(1) per issued token.
        horizon = self._clock.time() - self._token_ttl
        self._tokens = {k: t for k, t in self._tokens.items() if t.expires_at > horizon}
        self._prune_at = max(_PRUNE_MIN, 2 * len(self._tokens))


_PRUNE_MIN = 1024
