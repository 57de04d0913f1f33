"""Accounts: login with Spotify (PKCE), sessions and API tokens, users' Spotify tokens in the
database (encrypted) and their refresh, account deletion."""

from backbeat.domain.accounts.login import LoggedIn, LoginFlow, LoginStart, challenge, new_verifier
from backbeat.domain.accounts.sessions import CurrentSession, Sessions, session_secret
from backbeat.domain.accounts.tokens import DatabaseUserTokens
from backbeat.domain.accounts.users import UserAccounts

__all__ = [
    "CurrentSession",
    "DatabaseUserTokens",
    "LoggedIn",
    "LoginFlow",
    "LoginStart",
    "Sessions",
    "UserAccounts",
    "challenge",
    "new_verifier",
    "session_secret",
]
