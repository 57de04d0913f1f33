"""Tokens for Spotify calls: the app's (client credentials) and users' (a provider interface;
the database-backed provider comes with the accounts work). Refreshed before they expire, one
refresh at a time per app or user, per process and, given a `RefreshLock`, across processes.
A user's token read from the store is remembered in the process for a few minutes, so a job's
calls do not each read the database."""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from typing import Protocol

import httpx
from cachetools import TLRUCache

from backbeat.clock import Clock
from backbeat.errors import ReloginRequired, UpstreamAuthError

REFRESH_EARLY = 60.0  # refresh this long before the expiry Spotify announced
# How long a process trusts the user's token it read: a token renewed by another process
# (the old one stays valid until it expires) or dropped at a logout shows within this; a
# token Spotify refuses is forgotten at once (`invalidate`).
REMEMBER_USER_TOKEN = 300.0
REMEMBERED_USERS = 10_000


@dataclass(frozen=True)
class AccessToken:
    value: str
    expires_at: float  # clock time
    refresh_token: str | None = None
    scope: str = ""

    def fresh(self, now: float) -> bool:
        return now < self.expires_at - REFRESH_EARLY


class Accounts:
    """The accounts service (`/api/token`) for one app."""

    def __init__(
        self, http: httpx.AsyncClient, base_url: str, client_id: str, client_secret: str,
        clock: Clock,
    ) -> None:  # fmt: skip
        self.http = http
        self.token_url = f"{base_url.rstrip('/')}/api/token"
        self.client_id = client_id
        self.client_secret = client_secret
        self.clock = clock

    async def grant(self, **form: str) -> AccessToken:
        try:
            response = await self.http.post(
                self.token_url, data=form, auth=(self.client_id, self.client_secret)
            )
        except httpx.HTTPError as error:
            raise UpstreamAuthError("spotify", "token", None, str(error)) from error
        body = response.json() if response.content else {}
        if response.status_code != 200:
            detail = body.get("error_description") or body.get("error") or response.text[:200]
            raise UpstreamAuthError("spotify", "token", response.status_code, str(detail))
        # Spotify may leave out the refresh token when it did not rotate it.
        return AccessToken(
            value=body["access_token"],
            expires_at=self.clock.time() + float(body.get("expires_in", 3600)),
            refresh_token=body.get("refresh_token") or form.get("refresh_token"),
            scope=body.get("scope", ""),
        )


class UserTokenStore(Protocol):
    """Where users' tokens live (the database: `backbeat.domain.accounts`); the provider
    refreshes through it."""

    async def load(self, user: str) -> AccessToken | None: ...

    async def save(self, user: str, token: AccessToken) -> None: ...

    async def refused(self, user: str, reason: str) -> None:
        """Spotify refused the user's refresh token: forget it and ask for a new login."""
        ...


class MemoryUserTokens:
    """A `UserTokenStore` in this process: for tests, the demo and embedded use."""

    def __init__(self) -> None:
        self._tokens: dict[str, AccessToken] = {}

    async def load(self, user: str) -> AccessToken | None:
        return self._tokens.get(user)

    async def save(self, user: str, token: AccessToken) -> None:
        self._tokens[user] = token

    async def refused(self, user: str, reason: str) -> None:
        self._tokens.pop(user, None)


class RefreshLock(Protocol):
    """Excludes other processes from refreshing the same user's token at the same time."""

    def hold(self, user: str) -> AbstractAsyncContextManager[None]: ...


class SpotifyTokens:
    """The `TokenSource` of Spotify calls: the app's token for app calls, the user's otherwise.
    One refresh at a time per user: in this process by an asyncio lock, across processes by
    `across` when given (the user's token is shared through the store; the app's is not)."""

    def __init__(
        self, accounts: Accounts, users: UserTokenStore, across: RefreshLock | None = None
    ) -> None:
        self.accounts = accounts
        self.users = users
        self.across = across
        self._app: AccessToken | None = None
        self._locks: dict[str | None, asyncio.Lock] = {}
        # Kept until the earlier of the trust period and the token's own refresh time.
        self._remembered: TLRUCache[str, AccessToken] = TLRUCache(
            maxsize=REMEMBERED_USERS,
            ttu=lambda _user, token, now: min(
                now + REMEMBER_USER_TOKEN, token.expires_at - REFRESH_EARLY
            ),
            timer=accounts.clock.time,
        )
        self.refreshes = 0

    async def token(self, user: str | None) -> str:
        remembered = None if user is None else self._remembered.get(user)
        if remembered is not None:
            return remembered.value
        current = await self._current(user)
        if current is not None and current.fresh(self.accounts.clock.time()):
            return current.value
        async with self._locks.setdefault(user, asyncio.Lock()), self._exclusive(user):
            current = await self._current(user)  # another caller may have refreshed meanwhile
            if current is not None and current.fresh(self.accounts.clock.time()):
                return current.value
            return (await self._renew(user, current)).value

    async def refresh(self, user: str) -> AccessToken:
        """Renew the user's token now, fresh or not (the sweep of tokens expiring soon) —
        unless another caller renewed it while this one waited."""
        async with self._locks.setdefault(user, asyncio.Lock()):
            before = await self._current(user)
            async with self._exclusive(user):
                current = await self._current(user)
                if current is not None and before is not None and current.value != before.value:
                    return current
                return await self._renew(user, current)

    def _exclusive(self, user: str | None) -> AbstractAsyncContextManager[None]:
        if user is None or self.across is None:
            return nullcontext()
        return self.across.hold(user)

    async def invalidate(self, user: str | None, token: str) -> None:
        current = self._app if user is None else await self.users.load(user)
        if current is not None and current.value == token:
            expired = AccessToken(token, 0.0, current.refresh_token, current.scope)
            if user is None:
                self._app = expired
            else:
                await self.users.save(user, expired)
        if user is not None:  # the refused token is not trusted again; a newer one is
            self._remember(user, None if current is None or current.value == token else current)

    async def _current(self, user: str | None) -> AccessToken | None:
        if user is None:
            return self._app
        current = await self.users.load(user)
        self._remember(user, current)
        return current

    def _remember(self, user: str, token: AccessToken | None) -> None:
        if token is not None and token.fresh(self.accounts.clock.time()):
            self._remembered[user] = token
        else:
            self._remembered.pop(user, None)

    async def _renew(self, user: str | None, current: AccessToken | None) -> AccessToken:
        self.refreshes += 1
        if user is None:
            self._app = await self.accounts.grant(grant_type="client_credentials")
            return self._app
        if current is None or current.refresh_token is None:
            raise ReloginRequired(user, "no refresh token stored")
        try:
            renewed = await self.accounts.grant(
                grant_type="refresh_token", refresh_token=current.refresh_token
            )
        except UpstreamAuthError as error:
            if error.status not in (400, 401):  # 400 invalid_grant: revoked or expired
                raise
            self._remembered.pop(user, None)
            await self.users.refused(user, error.message)
            raise ReloginRequired(user, error.message) from error
        await self.users.save(user, renewed)
        self._remember(user, renewed)
        return renewed
