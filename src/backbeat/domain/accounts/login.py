"""Login with Spotify: authorization code with PKCE (S256) and state.

GET /auth/login     → `start()`: a fresh state and verifier, signed into a short-lived
                      cookie; the browser goes to Spotify's /authorize with the challenge.
GET /auth/callback  → `finish()`: the state must match the cookie's; the code is exchanged
                      with the verifier; /me names the user, found or created; the tokens
                      are stored encrypted; a session is issued.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode

from backbeat.config import Settings
from backbeat.domain.accounts.sessions import Sessions
from backbeat.domain.accounts.tokens import DatabaseUserTokens
from backbeat.domain.accounts.users import UserAccounts
from backbeat.errors import InvalidRequest, UpstreamAuthError
from backbeat.ratelimit import Priority
from backbeat.spotify import models as m
from backbeat.spotify.auth import Accounts
from backbeat.upstream.call import Request, Upstream


def new_verifier() -> str:
    """43–128 characters from the unreserved set (RFC 7636 §4.1): 64 random bytes, base64url."""
    return secrets.token_urlsafe(64)[:128]


def challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True, slots=True)
class LoginStart:
    authorize_url: str
    cookie: str  # the signed state and verifier, for the callback


@dataclass(frozen=True, slots=True)
class LoggedIn:
    user_id: str
    session_token: str


class LoginFlow:
    def __init__(
        self,
        settings: Settings,
        accounts: Accounts,
        spotify: Upstream,
        users: UserAccounts,
        tokens: DatabaseUserTokens,
        sessions: Sessions,
    ) -> None:
        self.settings = settings
        self.accounts = accounts
        self.spotify = spotify
        self.users = users
        self.tokens = tokens
        self.sessions = sessions

    def start(self) -> LoginStart:
        state, verifier = secrets.token_urlsafe(24), new_verifier()
        query = urlencode(
            {
                "client_id": self.settings.spotify.client_id,
                "response_type": "code",
                "redirect_uri": self.settings.auth.redirect_uri,
                "code_challenge_method": "S256",
                "code_challenge": challenge(verifier),
                "state": state,
                "scope": self.settings.auth.scopes,
            }
        )
        base = self.settings.spotify.accounts_url.rstrip("/")
        return LoginStart(f"{base}/authorize?{query}", self.sessions.login_state(state, verifier))

    async def finish(self, *, code: str, state: str, cookie: str | None) -> LoggedIn:
        pending = self.sessions.read_login_state(cookie) if cookie else None
        if pending is None:
            raise InvalidRequest("state", "no login in progress here (or it expired); start again")
        if not secrets.compare_digest(pending["state"], state):
            raise InvalidRequest("state", "does not match the login this browser started")
        try:
            token = await self.accounts.grant(
                grant_type="authorization_code",
                code=code,
                redirect_uri=self.settings.auth.redirect_uri,
                code_verifier=pending["verifier"],
            )
        except UpstreamAuthError as error:
            if error.status != 400:  # 5xx, no answer: Spotify's trouble, not the request's
                raise
            # A used, expired or forged code, or a verifier that does not match its challenge.
            raise InvalidRequest("code", f"Spotify refused it: {error.message}") from error
        answer = await self.spotify.call(
            Request("me", "/me", priority=Priority.HIGH, token=token.value)
        )
        profile = m.User.model_validate(answer)
        user = await self.users.find_or_create(
            profile.id,
            display_name=profile.display_name,
            email=profile.email,
            country=profile.country,
            product=profile.product,
        )
        await self.tokens.save(user.id, token)
        return LoggedIn(user.id, await self.sessions.issue(user.id, "cookie"))
