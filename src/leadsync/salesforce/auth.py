"""Getting an access token for each auth form, and knowing whether it can be renewed.

- access_token: used as is; cannot be renewed (an expired token is the user's to replace).
- password + consumer_key/consumer_secret: OAuth 2.0 username-password flow, POSTed by us so
  that `login_url` (My Domain, a proxy, the emulator) works; simple-salesforce hard-codes
  https://{domain}.salesforce.com for it.
- password without a connected app: simple-salesforce's SOAP login (its `scratch_url` hook
  carries `login_url` when one is set). An answer that is no SOAP message (a 404 from a wrong
  login_url, a proxy's 502) is not a refusal of the credentials and is never reported as one.
- JWT bearer: our own signed assertion (PyJWT), posted to the login host or `login_url`.
  The assertion's audience is the login host Salesforce documents
  (https://login.salesforce.com, or https://test.salesforce.com for a sandbox), never
  `login_url` itself: a My Domain or proxy URL as `aud` is refused ("audience is invalid").

Secrets are revealed only into the request body; no message built here contains one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from simple_salesforce import SalesforceAuthenticationFailed, SalesforceLogin

from leadsync.config.model import AccessTokenAuth, JwtAuth, PasswordAuth, SalesforceConfig
from leadsync.salesforce.errors import LoginFailed

TOKEN_PATH = "/services/oauth2/token"
DEFAULT_TIMEOUT = (10.0, 60.0)


@dataclass(frozen=True, slots=True)
class Token:
    access_token: str
    instance_url: str  # https://host[:port]

    def __repr__(self) -> str:  # never show the token
        return f"Token(instance_url={self.instance_url!r})"


def can_renew(cfg: SalesforceConfig) -> bool:
    """Whether an INVALID_SESSION_ID can be cured by logging in again."""
    return not isinstance(cfg.auth, AccessTokenAuth)


def login(cfg: SalesforceConfig, session: requests.Session) -> Token:
    """A fresh token for `cfg` (no network for the access_token form).

    A login (password or JWT) answers with the instance of the org the user belongs to. That
    must be the configured `instance_url`: a sandbox config whose login lands in production
    (domain: login instead of test, a production login_url) would otherwise write there.
    """
    auth = cfg.auth
    if isinstance(auth, AccessTokenAuth):
        return Token(auth.access_token.reveal(), cfg.instance_url.rstrip("/"))
    if isinstance(auth, PasswordAuth):
        if auth.consumer_key and auth.consumer_secret:
            token = _oauth_password(cfg, auth, session)
        else:
            token = _soap_password(cfg, auth, session)
    elif isinstance(auth, JwtAuth):
        token = _jwt(cfg, auth, session)
    else:
        raise LoginFailed(f"unsupported auth form {type(auth).__name__}")
    check_instance(cfg, token.instance_url)
    return token


def check_instance(cfg: SalesforceConfig, answered: str) -> None:
    """Refuse a login that answered another instance than the configured one (hosts compared
    case-insensitively, with scheme and port; the configured URL's path is ignored)."""
    if _origin(answered) == _origin(cfg.instance_url):
        return
    raise LoginFailed(
        f"the login answered instance {_origin(answered)}, but {cfg.setting('instance_url')} "
        f"is {_origin(cfg.instance_url)}; refusing to work in another org: point both at the "
        "same org (instance_url, or the login's domain / login_url)",
        code="INSTANCE_MISMATCH",
    )


def _origin(url: str) -> str:
    """scheme://host[:port], lower case, default port dropped; never user:password."""
    parts = urlsplit(url if "://" in url else f"https://{url}")
    scheme = (parts.scheme or "https").lower()
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:  # a port that is not a number: keep it visible, it differs anyway
        port = None
        host = parts.netloc.rpartition("@")[2].lower()
    default = {"https": 443, "http": 80}.get(scheme)
    return f"{scheme}://{host}" + (f":{port}" if port and port != default else "")


def _login_base(domain: str, login_url: str | None) -> str:
    return (login_url or f"https://{domain}.salesforce.com").rstrip("/")


def _oauth_password(cfg: SalesforceConfig, auth: PasswordAuth, session: requests.Session) -> Token:
    secret_token = auth.security_token.reveal() if auth.security_token else ""
    data = {
        "grant_type": "password",
        "client_id": auth.consumer_key,
        "client_secret": auth.consumer_secret.reveal() if auth.consumer_secret else "",
        "username": auth.username,
        "password": auth.password.reveal() + secret_token,
    }
    return _token_request(
        cfg, _login_base(auth.domain, auth.login_url), data, session, auth.username
    )


def _soap_password(cfg: SalesforceConfig, auth: PasswordAuth, session: requests.Session) -> Token:
    try:
        session_id, instance = SalesforceLogin(
            username=auth.username,
            password=auth.password.reveal(),
            security_token=auth.security_token.reveal() if auth.security_token else "",
            domain=auth.domain,
            sf_version=cfg.api_version,
            session=session,
            scratch_url=auth.login_url.rstrip("/") if auth.login_url else None,
        )
    except SalesforceAuthenticationFailed as exc:
        if isinstance(exc.code, int):  # simple-salesforce's mark of an answer that is not SOAP
            raise _not_a_soap_answer(cfg, auth, exc.code) from None
        raise LoginFailed(
            f"login refused for user {auth.username!r}: {exc.code} {_short(exc.auth_message)}".strip(),
            code=str(exc.code),
        ) from None
    return Token(session_id, _as_url(instance))


def _not_a_soap_answer(cfg: SalesforceConfig, auth: PasswordAuth, status: int) -> Exception:
    """The SOAP login endpoint answered HTTP `status` with no SOAP fault in it. A 5xx/429 is
    the server's or a proxy's trouble (transient: the caller retries it); anything else means
    the login URL is not a Salesforce login endpoint. Neither says the credentials are wrong."""
    url = f"{_login_base(auth.domain, auth.login_url)}/services/Soap/u/{cfg.api_version}"
    if status >= 500 or status == 429:
        response = requests.Response()
        response.status_code = status
        response.url = url
        return requests.HTTPError(f"SOAP login: HTTP {status}", response=response)
    where = "salesforce.auth.login_url" if auth.login_url else "salesforce.auth.domain"
    return LoginFailed(
        f"the SOAP login endpoint {url} answered HTTP {status} without a SOAP answer, so the "
        f"credentials of {auth.username!r} were not checked: {where} must name a Salesforce "
        "login host (https://login.salesforce.com, https://test.salesforce.com or a My Domain)",
        code="LOGIN_ENDPOINT",
    )


def _jwt(cfg: SalesforceConfig, auth: JwtAuth, session: requests.Session) -> Token:
    """Sign the assertion ourselves (RS256, 3 minutes, as simple-salesforce does) and post it to
    the login host, or to login_url when set. Not simple-salesforce's own JWT flow: it signs
    `aud` with the My Domain URL for a My Domain, which Salesforce refuses."""
    import jwt  # pyjwt[crypto], a dependency of simple-salesforce

    base = _login_base(auth.domain, auth.login_url)
    try:
        key = Path(auth.private_key_file).read_bytes()
    except OSError as exc:
        raise LoginFailed(f"cannot read private_key_file: {exc.strerror}") from None
    claims = {
        "iss": auth.consumer_key,
        "sub": auth.username,
        "aud": jwt_audience(auth.domain),
        "exp": int(time.time()) + 180,
    }
    try:
        assertion = jwt.encode(claims, key, algorithm="RS256")
    except Exception as exc:  # a malformed key: say so without echoing it
        raise LoginFailed(
            f"cannot sign the JWT with private_key_file: {type(exc).__name__}"
        ) from None
    data = {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion}
    return _token_request(cfg, base, data, session, auth.username)


def jwt_audience(domain: str) -> str:
    """The `aud` Salesforce requires of a JWT bearer assertion: the login host of the org's
    kind, whatever URL the assertion is posted to (a sandbox: domain `test`, or a My Domain
    `<name>--<sandbox>.sandbox.my`)."""
    sandbox = domain == "test" or domain.endswith(".sandbox.my")
    return "https://test.salesforce.com" if sandbox else "https://login.salesforce.com"


def _token_request(
    cfg: SalesforceConfig, base: str, data: dict[str, Any], session: requests.Session, user: str
) -> Token:
    """POST the token endpoint; transport errors propagate (the client's retry handles them)."""
    response = session.post(
        base + TOKEN_PATH,
        data=data,
        headers={"Accept": "application/json"},
        timeout=DEFAULT_TIMEOUT,
    )
    if response.status_code >= 500:
        response.raise_for_status()  # HTTPError: transient, retried by the caller
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code != 200 or not isinstance(body, dict) or not body.get("access_token"):
        code = body.get("error") if isinstance(body, dict) else None
        desc = body.get("error_description") if isinstance(body, dict) else None
        raise LoginFailed(
            f"OAuth login at {base} refused for user {user!r} (HTTP {response.status_code})"
            + (f": {code}" if code else "")
            + (f" - {_short(desc)}" if desc else ""),
            code=str(code) if code else None,
        )
    instance = str(body.get("instance_url") or cfg.instance_url).rstrip("/")
    return Token(str(body["access_token"]), instance)


def _as_url(instance: str) -> str:
    instance = instance.rstrip("/")
    return instance if "://" in instance else f"https://{instance}"


def _short(text: object, limit: int = 200) -> str:
    flat = " ".join(str(text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
