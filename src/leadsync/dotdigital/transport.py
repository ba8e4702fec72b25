"""The Dotdigital client's transport: one HTTP request under the retry policy, errors mapped.

Why here and not in each call: Dotdigital answers a throttled request with 429 and the pause it
wants (Retry-After or X-RateLimit-Reset) and an overloaded one with 5xx; every call is retried
the same way (leadsync/retry.py), a pause longer than the policy's `max_wait` stops the run
cleanly (RateLimited), and every HTTP request sent, retries included, is counted in `calls`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, cast

import requests

from leadsync import logs
from leadsync.config.model import DotdigitalConnection
from leadsync.dotdigital.dates import parse_datetime
from leadsync.dotdigital.errors import DotdigitalAuthError, DotdigitalError, RateLimited
from leadsync.dotdigital.wire import (
    _error_message,
    _excerpt,
    _excerpt_suffix,
)
from leadsync.retry import RetryPolicy, Transient, retry_after
from leadsync.wording import join_and

DEFAULT_TIMEOUT = (10.0, 121.0)  # connect, read: Dotdigital suggests allowing ~121 s per call
log = logs.get("dotdigital")


class Transport:
    """One Dotdigital account (API user) on one regional endpoint: its session and credentials."""

    def __init__(
        self,
        conn: DotdigitalConnection,
        *,
        session: requests.Session | None = None,
        retry: RetryPolicy | None = None,
        account: str | None = None,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        clock: Any = time.time,
        client_id: str | None = None,
    ) -> None:
        self.base_url = conn.base_url.rstrip("/")
        # Names this client instance in the server's logs (X-Leadsync-Client): with runners on
        # many machines, "which run sent this request" is otherwise unanswerable. Not secret.
        self.client_id = client_id or uuid.uuid4().hex[:16]
        self.account = account
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self.calls = 0
        # Dotdigital's clock as its last answer stated it (the HTTP Date header): a read can
        # take its own start time from its first answer instead of a server-time call.
        self.last_date: datetime | None = None
        self._clock = clock
        self._session = session or requests.Session()
        # UTF-8 bytes: requests would encode str credentials as latin-1 and crash on others.
        self._auth = (conn.username.reveal().encode(), conn.password.reveal().encode())
        # What to tell the user to fix when the credentials are refused: the variables, by name.
        self._credential_names = [
            s.env_var for s in (conn.username, conn.password) if s.env_var is not None
        ]
        self._headers = {
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": "leadsync",
            "X-Leadsync-Client": self.client_id,
        }

    def _pace(self, reads: int, why: str) -> None:
        """Between two status reads of work the service runs in the background."""
        seconds = self.retry.backoff(reads)
        log.debug("%s: %s; reading again in %.1f s", self._log_name(), why, seconds)
        self.retry.sleep(seconds)

    def _json(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> Any:
        response = self._request(method, path, params=params, json=json)
        if response.status_code == 204 or not response.content.strip():
            return None
        try:
            return response.json()
        except ValueError:
            raise self._unexpected(
                f"{method} {path}", response.status_code, response.text
            ) from None

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> requests.Response:
        """One logical call: retries transient failures within the policy, maps the rest."""
        url = self.base_url + path
        where = logs.endpoint(method, url)  # for the log: no query string, no credentials

        def attempt(n: int) -> requests.Response:
            self.calls += 1
            try:
                response = self._session.request(
                    method,
                    url,
                    params=params,
                    json=json,
                    auth=self._auth,
                    headers=self._headers,
                    timeout=self.timeout,
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                log.debug("%s: %s -> %s", self._log_name(), where, type(exc).__name__)
                raise Transient(
                    f"{self._log_name()}: {where} -> {type(exc).__name__}",
                    error=DotdigitalError(
                        f"{self._who()}: {method} {path} failed after {n} attempts: "
                        f"{type(exc).__name__}",
                        code="CONNECTION_ERROR",
                        transient=True,
                    ),
                ) from None
            log.debug("%s: %s -> %s", self._log_name(), where, response.status_code)
            if response.status_code < 300:
                self._note_date(response)
                return response
            raise self._failure(f"{method} {path}", where, response, n)

        return cast(requests.Response, self.retry.run(attempt))

    def _failure(
        self, what: str, where: str, response: requests.Response, attempt: int
    ) -> Exception:
        """An answer of 300 or more as what the attempt raises: Transient for a 429 whose pause
        fits `max_wait` and for 5xx (with the error to raise when the policy gives up), the
        error itself otherwise."""
        status = response.status_code
        why = f"{self._log_name()}: {where} -> {status}"
        if status == 429:
            wait = self._rate_limit_wait(response)
            limited = RateLimited(
                f"{self._who()}: rate limit reached on {what}"
                + (f"; it resets in {int(wait)} s" if wait is not None else "")
                + ". Re-run later; everything done so far is recorded.",
                reset_at=self._clock() + wait if wait is not None else None,
            )
            if wait is not None and wait > self.retry.max_wait:
                return limited
            return Transient(why, error=limited, requested=wait)
        if status >= 500:
            return Transient(
                why + _excerpt_suffix(response.text),
                error=DotdigitalError(
                    f"{self._who()}: {what} answered HTTP {status} after {attempt} attempts"
                    f"{_excerpt_suffix(response.text)}",
                    status=status,
                    transient=True,
                ),
            )
        return self._client_error(what, response)

    def _client_error(self, what: str, response: requests.Response) -> Exception:
        status = response.status_code
        message, code = _error_message(response)
        if status == 401:
            names = self._credential_names
            check = (
                f"check {join_and(names)}"
                if names
                else "check the account's dotdigital username and password"
            )
            return DotdigitalAuthError(
                f"{self._who()}: the API user's credentials were refused (HTTP 401) on {what}; "
                + check,
                status=status,
            )
        if status == 403:
            return DotdigitalAuthError(
                f"{self._who()}: access denied (HTTP 403) on {what}; is the endpoint the "
                "account's own region?" + (f" Dotdigital says: {message}" if message else ""),
                status=status,
            )
        if code == "ERROR_APIUSAGE_EXCEEDED":
            return RateLimited(f"{self._who()}: API usage exceeded ({message}).")
        detail = message or _excerpt(response.text) or "(empty body)"
        return DotdigitalError(
            f"{self._who()}: {what} answered HTTP {status}: {detail}", status=status, code=code
        )

    def _note_date(self, response: requests.Response) -> None:
        raw = response.headers.get("Date")
        if not raw:
            return
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return
        if when is not None and when.tzinfo is not None:
            self.last_date = when

    def _rate_limit_wait(self, response: requests.Response) -> float | None:
        """Seconds Dotdigital asks us to wait (Retry-After or X-RateLimit-Reset), if it says."""
        requested = retry_after(response.headers, self._clock)
        if requested is not None:
            return requested
        reset = response.headers.get("X-RateLimit-Reset")
        if reset:
            try:
                value = float(reset)
            except ValueError:
                parsed = parse_datetime(reset)
                return max(0.0, parsed.timestamp() - self._clock()) if parsed else None
            # Documented as UTC epoch seconds; small values can only be a delta.
            return max(0.0, value - self._clock()) if value > 1e9 else max(0.0, value)
        return None

    def _log_name(self) -> str:
        return f"dotdigital account {self.account!r}" if self.account else "dotdigital"

    def _who(self) -> str:
        name = f"account {self.account!r}" if self.account else "account"
        return f"{name} at {self.base_url}"

    def _unexpected(self, what: str, status: int, body: Any) -> DotdigitalError:
        text = body if isinstance(body, str) else repr(body)
        return DotdigitalError(
            f"{self._who()}: {what} returned an unexpected body (HTTP {status}): {_excerpt(text)}",
            status=status,
            code="UNEXPECTED_RESPONSE",
        )
