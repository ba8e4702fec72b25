"""Sessions: access tokens and the OAuth 2.0 logins that issue them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from leadsync.emulator.salesforce.exceptions import invalid_session
from leadsync.emulator.salesforce.models import assertions
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


class LoginFault(Exception):
    """A SOAP login refused: sf:exceptionCode and sf:exceptionMessage of the LoginFault."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


INVALID_LOGIN = LoginFault(
    "INVALID_LOGIN", "Invalid username, password, security token; or user locked out."
)


class Sessions(OrgState):
    """Tokens the org accepts, and the logins that issue them."""

    sandbox: bool
    tokens: set[str]
    users: list[dict]
    connected_apps: list[dict]

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

    # --- the token endpoint: /services/oauth2/token ------------------------------------------

    def login(
        self, form: dict[str, str], instance_url: str, basic: tuple[str, str] | None = None
    ) -> dict:
        """One token request: the username-password, JWT bearer or client-credentials grant.

        `basic` is the (client_id, client_secret) of an HTTP Basic Authorization header, the way
        simple-salesforce sends client credentials; the form fields work as well.
        """
        grant = form.get("grant_type", "")
        if grant == "password":
            return self._password_grant(form, instance_url)
        if grant == assertions.JWT_BEARER:
            return self._jwt_grant(form.get("assertion", ""), instance_url)
        if grant == "client_credentials":
            key, secret = basic or (form.get("client_id", ""), form.get("client_secret", ""))
            return self._client_credentials_grant(key, secret, instance_url)
        raise OAuthError("unsupported_grant_type", "grant type not supported")

    def _app(self, consumer_key: str | None) -> dict:
        app = next((a for a in self.connected_apps if a["consumer_key"] == consumer_key), None)
        if app is None:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        return app

    def _check_secret(self, app: dict, secret: str) -> None:
        if not hmac.compare_digest(str(app["consumer_secret"]).encode(), secret.encode()):
            raise OAuthError("invalid_client", "invalid client credentials")

    def user_named(self, username: object) -> dict | None:
        return next((u for u in self.users if u["username"] == username), None)

    def _password_grant(self, form: dict[str, str], instance_url: str) -> dict:
        app = self._app(form.get("client_id"))
        self._check_secret(app, form.get("client_secret", ""))
        if not self.password_matches(form.get("username"), form.get("password", "")):
            raise OAuthError("invalid_grant", "authentication failure")
        return self._token_answer(instance_url, app, signed=True)

    def password_matches(self, username: object, password: str) -> bool:
        """The password as an API login sends it: the user's password followed by the security
        token (a user seeded without a token logs in with the password alone)."""
        user = self.user_named(username)
        if user is None:
            return False
        expected = str(user["password"]) + str(user.get("security_token", ""))
        return hmac.compare_digest(expected.encode(), password.encode())

    def _jwt_grant(self, raw: str, instance_url: str) -> dict:
        """OAuth 2.0 JWT bearer flow: see assertions.py for the checks and their answers."""
        try:
            assertion = assertions.parse(raw)
            app = self._app(assertion.claims.get("iss"))
            assertions.verify_signature(assertion, app.get("certificate"))
            audience = (
                assertions.SANDBOX_AUDIENCE if self.sandbox else assertions.PRODUCTION_AUDIENCE
            )
            assertions.check_claims(
                assertion.claims, audience=audience, now=self.clock.now().timestamp()
            )
        except assertions.AssertionRefused as exc:
            raise OAuthError(exc.error, exc.description) from None
        if self.user_named(assertion.claims.get("sub")) is None:
            raise OAuthError("invalid_grant", "user hasn't approved this consumer")
        body = self._token_answer(instance_url, app, signed=False)
        body["scope"] = "api"
        return body

    def _client_credentials_grant(self, key: str, secret: str, instance_url: str) -> dict:
        """Client credentials flow: the app's secret, and a run-as user set on the app."""
        app = self._app(key)
        self._check_secret(app, secret)
        if self.user_named(app.get("client_credentials_user")) is None:
            raise OAuthError("invalid_grant", "no client credentials user enabled")
        body = self._token_answer(instance_url, app, signed=True)
        body["scope"] = "api"
        return body

    def issue_token(self) -> str:
        token = f"{self.org_id[:15]}!AQ0AQ{secrets.token_urlsafe(48)}"
        with self.lock:
            self.tokens.add(token)
        return token

    def _token_answer(self, instance_url: str, app: dict, *, signed: bool) -> dict:
        issued_at = str(int(self.clock.now().timestamp() * 1000))
        identity = f"{instance_url}/id/{self.org_id}/{self.user_id}"
        body = {
            "access_token": self.issue_token(),
            "instance_url": instance_url,
            "id": identity,
            "token_type": "Bearer",
        }
        if signed:
            body["issued_at"] = (
                issued_at  # HMAC-SHA256 of id + issued_at keyed with the consumer secret
            )
            sig = hmac.new(
                str(app["consumer_secret"]).encode(),
                (identity + issued_at).encode(),
                hashlib.sha256,
            )
            body["signature"] = base64.b64encode(sig.digest()).decode()
        return body

    # --- the SOAP partner login: /services/Soap/u/{version} ----------------------------------

    def soap_login(self, username: str, password: str, organization_id: str | None) -> dict:
        """The partner API `login` call (username + password + security token, no connected
        app): the session id and the user it acts as, or INVALID_LOGIN. A LoginScopeHeader's
        organizationId must name this org (15 or 18 chars)."""
        if organization_id and organization_id[:15] != self.org_id[:15]:
            raise INVALID_LOGIN
        if not self.password_matches(username, password):
            raise INVALID_LOGIN
        return {
            "sessionId": self.issue_token(),
            "userId": self.user_id,
            "organizationId": self.org_id,
            "userName": username,
            "sandbox": self.sandbox,
        }
