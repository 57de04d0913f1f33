"""Users' tokens in the database: a token no configured key opens asks for a new login."""

from __future__ import annotations

from cryptography.fernet import Fernet

from backbeat.clock import FakeClock
from backbeat.config import Settings
from backbeat.db.crypto import TokenCipher
from backbeat.db.engine import Database, open_database
from backbeat.db.models import User
from backbeat.domain.accounts import DatabaseUserTokens
from backbeat.spotify.auth import AccessToken


async def test_a_token_under_a_retired_key_flags_the_user_for_a_new_login(
    database: Database, settings: Settings
) -> None:
    clock = FakeClock()
    async with database.sessions() as session, session.begin():
        session.add(User(id="u1", spotify_id="listener"))
    tokens = DatabaseUserTokens(database, clock)
    await tokens.save("u1", AccessToken("access", clock.time() + 3600, "refresh", "a b"))
    loaded = await tokens.load("u1")
    assert loaded is not None
    assert (loaded.value, loaded.refresh_token, loaded.scope) == ("access", "refresh", "a b")

    other_key = TokenCipher([Fernet.generate_key().decode()])
    async with open_database(settings, cipher=other_key) as elsewhere:
        assert await DatabaseUserTokens(elsewhere, clock).load("u1") is None
        async with elsewhere.sessions() as session:
            user = await session.get(User, "u1")
    assert user is not None
    assert user.needs_relogin
    assert user.auth_error == "stored tokens cannot be decrypted with the current keys"
    assert await tokens.load("u1") is None  # the unreadable tokens are gone
