"""The Salesforce client's transport: the session, login, one retried API step, error mapping.

Every request of the client (login, REST, Composite, Bulk API 2.0) goes through one instrumented
`requests` session and, for each API step, through `_call`: the one place that maps a failure
to leadsync's errors (transient, ambiguous, REQUEST_LIMIT_EXCEEDED, an expired session) and hands
transient ones to the retry policy (leadsync/retry.py). Why a create is never re-sent when its
outcome is unknown: see salesforce/client.py.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar, cast

import requests
import urllib3.exceptions
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError as SimpleSalesforceError
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceOperationError,
)

from leadsync import logs
from leadsync.config.model import SalesforceConfig
from leadsync.retry import RetryPolicy, Transient, retry_after
from leadsync.salesforce import auth
from leadsync.salesforce.errors import (
    BULK_JOB_FAILED,
    UNABLE_TO_LOCK_ROW,
    RequestLimitExceeded,
    SalesforceError,
    SessionExpired,
)
from leadsync.salesforce.model import ObjectDescribe
from leadsync.salesforce.wire import (
    _api_error,
    _excerpt,
)

T = TypeVar("T")
log = logs.get("salesforce")
# Salesforce's edge names every answer with a request id (support asks for it); both spellings.
REQUEST_ID_HEADERS = ("X-SFDC-Request-Id", "X-Request-Id")
_ATTEMPTS = re.compile(r" after \d+ attempts$")  # the final error's words; a retry line counts
DEFAULT_TIMEOUT = (10.0, 120.0)


class Transport:
    """One org's session and login, the count of requests sent, the API usage last seen."""

    def __init__(
        self,
        cfg: SalesforceConfig,
        *,
        session: requests.Session | None = None,
        retry: RetryPolicy | None = None,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        bulk_poll: float = 0.25,
        bulk_poll_max: float = 5.0,
        bulk_timeout: float = 4 * 3600.0,
        poll_sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.cfg = cfg
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self.calls = 0
        self._bulk_poll = bulk_poll
        self._bulk_poll_max = bulk_poll_max
        self._bulk_timeout = bulk_timeout
        self._poll_sleep = poll_sleep
        self._session = session or requests.Session()
        if cfg.ca_bundle:
            # With trust_env on, REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE silently override
            # session.verify; the configured bundle must win.
            self._session.trust_env = False
            self._session.verify = cfg.ca_bundle
        self._last_headers: Mapping[str, str] | None = None
        # Salesforce's clock as its last answer stated it (the HTTP Date header): an
        # incremental read takes its own start from its first answer (no extra call).
        self.last_date: datetime | None = None
        self._last_exchange = ""  # "POST https://host/path -> 503, request id ..." (no query)
        self._instrument(self._session)
        self._usage: tuple[int, int] | None = None
        self._sf: Salesforce | None = None
        self._token: auth.Token | None = None
        self._describes: dict[str, ObjectDescribe] = {}
        self._active_lead_rule: list[str | None] = []  # looked up once per client

    def api_usage(self) -> tuple[int, int] | None:
        """(used, total) daily API requests from the latest Sforce-Limit-Info, if seen yet."""
        if self._usage is not None:
            return self._usage
        usage = (self._sf.api_usage or {}).get("api-usage") if self._sf else None
        return (int(usage.used), int(usage.total)) if usage else None

    def _instrument(self, session: requests.Session) -> None:
        """Count every request the session sends and read Sforce-Limit-Info off every answer.

        Wrapping `send` (not a response hook) counts attempts whose connection dropped too,
        and covers login, REST and bulk alike since they all share this session.
        """
        original_send = session.send

        def send(request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
            self.calls += 1
            if kwargs.get("timeout") is None:
                kwargs["timeout"] = self.timeout
            self._last_headers = None
            where = logs.endpoint(request.method or "", request.url or "")
            self._last_exchange = f"{where} -> no answer"
            try:
                response = original_send(request, **kwargs)
            except requests.RequestException as exc:
                self._last_exchange = f"{where} -> {type(exc).__name__}"
                log.debug("salesforce: %s", self._last_exchange)
                raise
            self._last_headers = response.headers
            self._note_date(response.headers.get("Date"))
            self._last_exchange = _exchange(where, response)
            log.debug("salesforce: %s", self._last_exchange)
            info = response.headers.get("Sforce-Limit-Info")
            if info:
                usage = Salesforce.parse_api_usage(info).get("api-usage")
                if usage is not None:
                    self._usage = (int(usage.used), int(usage.total))
            return response

        session.send = send  # type: ignore[method-assign]

    def _note_date(self, raw: str | None) -> None:
        if not raw:
            return
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return
        if when is not None and when.tzinfo is not None:
            self.last_date = when

    def _connect(self) -> Salesforce:
        if self._sf is None:
            token = self._token or self._call_raw(
                "login", lambda: auth.login(self.cfg, self._session)
            )
            self._token = token
            self._sf = Salesforce(
                instance_url=token.instance_url,
                session_id=token.access_token,
                session=self._session,
                version=self.cfg.api_version,
            )
        return self._sf

    def _call(self, what: str, fn: Callable[[Salesforce], T], *, idempotent: bool = True) -> T:
        """Run one API step with retries, one re-login on INVALID_SESSION_ID, error mapping.

        `idempotent=False` (creates): an outcome-unknown failure is raised at once, ambiguous.
        """
        renewed = False
        while True:
            sf = self._connect()
            try:
                return self._call_raw(what, lambda sf=sf: fn(sf), idempotent=idempotent)
            except SessionExpired:
                if renewed or not auth.can_renew(self.cfg):
                    raise
                renewed = True
                log.info("salesforce: %s: session expired; logging in again", what)
                self._sf = self._token = None  # log in again, then retry the step once

    def _call_raw(self, what: str, fn: Callable[[], T], *, idempotent: bool = True) -> T:
        """One API step under the retry policy: transient failures are tried again, the rest
        (and an ambiguous create) raised at once as leadsync's errors."""

        def attempt(n: int) -> T:
            try:
                return fn()
            except requests.exceptions.SSLError as exc:
                raise SalesforceError(
                    f"{what}: TLS verification failed for {self.cfg.instance_url} "
                    f"({type(exc).__name__}); set {self.cfg.setting('ca_bundle')} if the org "
                    "uses a private CA",
                    code="TLS_ERROR",
                ) from None
            except (
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,
            ) as exc:
                error = self._connection_error(what, exc, n, idempotent=idempotent)
            except requests.HTTPError as exc:  # token endpoint 5xx
                status = exc.response.status_code if exc.response is not None else None
                error = SalesforceError(
                    f"{what}: HTTP {status} after {n} attempts", status=status, transient=True
                )
            except SalesforceExpiredSession as exc:
                raise self._session_expired(what, exc) from None
            except SimpleSalesforceError as exc:
                error = self._map_error(what, exc, n, idempotent=idempotent)
            except SalesforceOperationError as exc:
                raise SalesforceError(
                    f"{what}: {_excerpt(str(exc))}", code=BULK_JOB_FAILED
                ) from None
            except ValueError as exc:  # a 2xx body that is not JSON
                raise SalesforceError(
                    f"{what}: unreadable response ({type(exc).__name__}): {_excerpt(str(exc))}",
                    code="UNEXPECTED_RESPONSE",
                ) from None
            raise self._retryable(error) from None

        return cast(T, self.retry.run(attempt))

    def _connection_error(
        self, what: str, exc: BaseException, attempt: int, *, idempotent: bool
    ) -> SalesforceError:
        """A connection lost or timed out: transient, or ambiguous for a create that may have
        reached Salesforce (see the module docstring)."""
        if not idempotent and not _never_sent(exc):
            return SalesforceError(
                f"{what}: {type(exc).__name__} after the request was sent "
                f"(attempt {attempt}); Salesforce may have applied it, so it is not "
                "sent again blindly",
                code="CONNECTION_ERROR",
                ambiguous=True,
            )
        return SalesforceError(
            f"{what}: {type(exc).__name__} after {attempt} attempts",
            code="CONNECTION_ERROR",
            transient=True,
        )

    def _retryable(self, error: SalesforceError) -> Exception:
        """What an attempt raises for a mapped error: Transient (try again, with the pause a
        429/503 asked for) or, when it is permanent or ambiguous, the error itself."""
        if not error.transient or error.ambiguous:
            return self._with_exchange(error)
        why = f"salesforce: {self._failed(error)}"
        requested = retry_after(self._last_headers) if error.status in (429, 503) else None
        return Transient(why, error=self._with_exchange(error), requested=requested)

    def _failed(self, error: SalesforceError) -> str:
        """A retry line's account of a failed call: our words, Salesforce's, the exchange."""
        said = _ATTEMPTS.sub("", str(error).removeprefix("Salesforce: "))
        return f"{said}; {self._last_exchange}"

    def _locked_note(self, sobject: str, count: int) -> str:
        return (
            f"salesforce: {count} {sobject} record{'s' if count != 1 else ''} UNABLE_TO_LOCK_ROW; "
            f"{self._last_exchange}"
        )

    def _with_exchange(self, error: SalesforceError) -> SalesforceError:
        """The error, its message ending with the endpoint, status and request id it came from
        (request-level failures only: per-record reasons stay Salesforce's own words)."""
        if self._last_exchange and self._last_exchange not in str(error):
            error.args = (f"{error.args[0]} [{self._last_exchange}]", *error.args[1:])
        return error

    def _map_error(
        self, what: str, exc: SimpleSalesforceError, attempt: int, *, idempotent: bool = True
    ) -> SalesforceError:
        status = int(exc.status) if exc.status else None
        code, message, fields = _api_error(exc.content)
        # 429 means "slow down" whatever the body says; REQUEST_LIMIT_EXCEEDED (403) is the
        # daily allowance, except its ConcurrentPerOrgLongTxn flavour, which passes with time.
        if (
            code == "REQUEST_LIMIT_EXCEEDED"
            and status != 429
            and "concurrent" not in message.lower()
        ):
            raise RequestLimitExceeded(
                f"the org's API request limit is exceeded ({message or code}) during {what}. "
                "The run stops here with everything recorded; re-run when the allowance resets."
            ) from None
        transient = (status is not None and (status >= 500 or status == 429)) or code in (
            UNABLE_TO_LOCK_ROW,
            "SERVER_UNAVAILABLE",
        )
        ambiguous = not idempotent and transient and _outcome_unknown(status, code)
        detail = message or _excerpt(str(exc.content))
        suffix = f" after {attempt} attempts" if transient else ""
        if ambiguous:
            suffix = (
                f" (attempt {attempt}); Salesforce may have applied it, "
                "so it is not sent again blindly"
            )
        return SalesforceError(
            f"{what}: {code or 'HTTP ' + str(status)}: {detail}{suffix}",
            code=code,
            status=status,
            transient=transient,
            fields=fields,
            detail=detail,
            ambiguous=ambiguous,
        )

    def _session_expired(self, what: str, exc: SimpleSalesforceError) -> SessionExpired:
        code, message, _ = _api_error(exc.content)
        if auth.can_renew(self.cfg):
            hint = "logging in again did not help; check the user and connected app"
        else:
            hint = (
                "the configured access_token cannot be renewed by leadsync; get a new token "
                f"and set {self.cfg.setting('auth.access_token')}"
            )
        return SessionExpired(
            f"{what}: session invalid or expired ({code or 'HTTP 401'}: {message or 'no message'}); "
            + hint
        )

    def _unexpected(self, what: str, body: Any) -> SalesforceError:
        return SalesforceError(
            f"{what}: unexpected response: {_excerpt(repr(body))}", code="UNEXPECTED_RESPONSE"
        )


def _exchange(where: str, response: requests.Response) -> str:
    """`POST https://host/path -> 503, request id 4f3c...` for logs and error messages."""
    rid = next((response.headers[h] for h in REQUEST_ID_HEADERS if response.headers.get(h)), None)
    return f"{where} -> {response.status_code}" + (f", request id {rid}" if rid else "")


def _never_sent(exc: BaseException) -> bool:
    """True when the connection could not even be opened, so no request reached Salesforce.

    requests wraps urllib3's NewConnectionError / ConnectTimeoutError (refused, unreachable,
    DNS, connect timeout) in a ConnectionError whose first argument is a MaxRetryError with the
    cause as `reason`. Anything else (reset, remote disconnect, read timeout) may have happened
    after the request was on the wire.
    """
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    stack: list[BaseException] = [exc]
    seen: set[int] = set()
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, urllib3.exceptions.ConnectTimeoutError):  # NewConnectionError too
            return True
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            stack.append(reason)
        stack.extend(a for a in current.args if isinstance(a, BaseException))
        if current.__cause__ is not None:
            stack.append(current.__cause__)
    return False


def _outcome_unknown(status: int | None, code: str | None) -> bool:
    """A server error that may come after the work was done (500/502/504); 503 is a refusal
    ("unavailable": nothing was done), and UNABLE_TO_LOCK_ROW is a refusal whatever its status."""
    return status is not None and status >= 500 and status != 503 and code != UNABLE_TO_LOCK_ROW
