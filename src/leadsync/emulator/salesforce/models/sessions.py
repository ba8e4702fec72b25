"""Sessions: access tokens and the OAuth 2.0 logins that issue them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

from leadsync.emulator.salesforce.exceptions import invalid_session
from leadsync.emulator.salesforce.models.base import OrgState

DEMO_ACCESS_TOKEN = "00D8d0000000001!AQ0AQLeadsyncEmulatorDemoSessionToken"
DEFAULT_USERS = [
    {
        "username": "integration@leadsync.example",
        "password": "demo-password",
        "security_token": "DEMOTOKEN",
    }
]
DEFAULT_APPS = [
    {
        "consumer_key": "leadsync-demo-consumer-key",
        "consumer_secret": "leadsync-demo-consumer-secret",
    }
]


class OAuthError(Exception):
    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.body = {"error": error, "error_description": description}


class Sessions(OrgState):
    """Tokens the org accepts, and the logins that issue them."""

    # --- sessions, OAuth and the API counter ----------------------------------------------------

    def check_token(self, authorization: str | None) -> None:
        token = ""
        if authorization:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() not in ("bearer", "oauth"):
                token = ""
        with self.lock:
            if token.strip() not in self.tokens:
                raise invalid_session()

    def expire_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()

    def login(self, form: dict[str, str], instance_url: str) -> dict:
        """OAuth 2.0 username-password flow."""
        grant = form.get("grant_type", "")
        if grant != "password":
            raise OAuthError("unsupported_grant_type", "grant type not supported")
        app = next(
            (a for a in self.connected_apps if a["consumer_key"] == form.get("client_id")), None
        )
        if app is None:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        if not hmac.compare_digest(str(app["consumer_secret"]), form.get("client_secret", "")):
            raise OAuthError("invalid_client", "invalid client credentials")
        user = next((u for u in self.users if u["username"] == form.get("username")), None)
        expected = (
            None if user is None else str(user["password"]) + str(user.get("security_token", ""))
        )
        if expected is None or not hmac.compare_digest(expected, form.get("password", "")):
            raise OAuthError("invalid_grant", "authentication failure")
        token = f"{self.org_id[:15]}!AQ0AQ{secrets.token_urlsafe(48)}"
        with self.lock:
            self.tokens.add(token)
        issued_at = str(int(time.time() * 1000))
        identity = f"{instance_url}/id/{self.org_id}/{self.user_id}"
        sig = hmac.new(
            str(app["consumer_secret"]).encode(), (identity + issued_at).encode(), hashlib.sha256
        )
        return {
            "access_token": token,
            "instance_url": instance_url,
            "id": identity,
            "token_type": "Bearer",
            "issued_at": issued_at,
            "signature": base64.b64encode(sig.digest()).decode(),
        }
