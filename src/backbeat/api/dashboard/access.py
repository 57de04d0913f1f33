"""Who may see the dashboard: whoever holds the admin token (`auth.admin_token`; unset, the
dashboard is off). A browser cannot send a bearer header when it navigates, so the login form
trades the token for a signed cookie: HttpOnly, SameSite=Strict, path `/dashboard`, valid for
`MAX_AGE`. Scripts may send `Authorization: Bearer <admin token>` to `/dashboard/data` instead.

The cookie carries an HMAC of the admin token under the session secret: changing the token
ends every dashboard session at once, and the token itself never leaves the server.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from itsdangerous import BadSignature, URLSafeTimedSerializer
from pydantic import SecretStr

COOKIE = "backbeat_dashboard"
MAX_AGE = 12 * 3600  # seconds
DISABLED = "the dashboard is disabled: set BACKBEAT_AUTH__ADMIN_TOKEN to turn it on"


class AdminAccess:
    def __init__(self, admin_token: SecretStr | None, secret: str, *, secure: bool) -> None:
        self._token = admin_token.get_secret_value().encode() if admin_token else None
        self._secret = secret.encode()
        self._signer = URLSafeTimedSerializer(secret, salt="backbeat-dashboard")
        self.secure = secure  # the cookie goes over HTTPS only

    @property
    def enabled(self) -> bool:
        return bool(self._token)

    def token_matches(self, given: str) -> bool:
        """Constant-time: how much of a guess was right does not show in the timing."""
        if not self._token:
            return False
        return secrets.compare_digest(given.encode(), self._token)

    def issue(self) -> str:
        """A cookie value for a caller who just gave the right token."""
        if not self._token:
            raise RuntimeError("no admin token: the dashboard is disabled")
        return self._signer.dumps({"admin": self._fingerprint()})

    def admits(self, cookie: str | None) -> bool:
        """Whether `cookie` is ours, younger than `MAX_AGE`, and issued for the current token."""
        if not cookie or not self._token:
            return False
        try:
            value = self._signer.loads(cookie, max_age=MAX_AGE)
        except BadSignature:  # includes expired ones
            return False
        given = value.get("admin") if isinstance(value, dict) else None
        return isinstance(given, str) and secrets.compare_digest(given, self._fingerprint())

    def _fingerprint(self) -> str:
        assert self._token is not None
        return hmac.new(self._secret, self._token, hashlib.sha256).hexdigest()[:32]
