"""WSGI middleware shared by both emulated services: latency, fault injection, request log.

Why a middleware and not code in each service: the same knobs must behave identically on both
servers, and the service apps stay a faithful reading of their API. The generic control routes
live here; service-specific ones (expire-token, clock, ...) pass through to the service app.

Every delayed response (latency and/or a fault's delay_ms) carries `X-Emulator-Delay-Ms: <ms>`.

A service may name a request-id header (Salesforce: `X-SFDC-Request-Id`, set by its edge on
every answer, errors included): each request then gets a fresh id (32 hex digits), sent in that
header on whatever answers it (the service or a fault) and kept in the request log as
"request_id", so a test can match what a client logged with what the server saw.

Control routes (no auth, never logged, counted, delayed or faulted):
  GET    /__emulator/requests   -> {"requests": [{"method","path","status","query"}],
                                    "counts": {"<METHOD> <route pattern>": n},
                                    "counts_by_path": {"<METHOD> <literal path>": n}}
                                    (entries also carry "user": the Basic-auth user, and
                                    "client": the X-Leadsync-Client header, when sent)

Why two maps: "counts per endpoint" must not fragment by id (two bulk jobs are two uploads to ONE
endpoint), so `counts` is keyed by the service's route pattern, e.g.
`PUT /services/data/v{version}/jobs/ingest/{job_id}/batches` or
`GET /v2/address-books/{book_id}/contacts`; a request no route matches counts under
`<METHOD> <unmatched>`. A service names the pattern by setting `environ[ROUTE_KEY]`; for a request
the service never saw (a fault answered or dropped it) the middleware asks the app's optional
`route_for(method, path) -> str | None`. An app that does neither is counted by literal path.
`counts_by_path` keeps the literal-path keys for callers that want one particular record.
A Composite request counts once, under its own pattern: its subrequests are not HTTP requests.
  POST   /__emulator/reset-log  -> clears the request log (faults stay)
  POST   /__emulator/faults     -> add a fault (body below); answers {"id": n, ...}
  GET    /__emulator/faults     -> {"faults": [...]} (active faults with `remaining`)
  DELETE /__emulator/faults     -> remove every fault

A fault: {"method": "POST" (default any), "path_regex": "composite/sobjects" (re.search on the
path; default any), "status": 503, "times": 2 (default: unlimited), "delay_ms": 0,
"drop_connection": false, "hold_ms": 0, "body": <JSON value or string; default: the service's
error shape>, "headers": {"Retry-After": "1"}}. Faults are tried in the order they were added;
the first matching one with times left is used, and a matching request uses up one of its times.
A fault with only `delay_ms` slows the request down and then lets the service answer it.
`DELETE /__emulator/faults` also releases every request still held by a fault's delay (it goes on
at once): a test can hold a request "for ever" (say delay_ms 600000), do what it must while the
client waits, and then let it go: a real event instead of a race against a timer.

Was the request applied? A client that loses the answer cannot tell, so the emulator offers both:
- `"status": n` and `"drop_connection": true` (or `"before"`): the service never sees the
  request; nothing is applied (a refusal, or a connection lost on the way in).
- `"drop_connection": "after"`: the service app handles the request to the end (a POST creates
  its records), then the connection is closed without a single byte of the answer: the client
  gets a ConnectionError for a write that DID happen (the answer lost on the way out).
  `"hold_ms": n` (only with "after") keeps the connection open and silent for up to n ms, or
  until the client closes it, before dropping it: a client read timeout on an applied write,
  with no sleep on the client side (it gives up after its own timeout and the server stops
  holding as soon as it sees the close).
Dropped requests are logged with status 0, whether applied or not.

`"query_regex": "..."` narrows a fault to requests whose URL-decoded query string matches
(re.search), e.g. one particular SOQL query: `"^(?!.*IsConverted).*FROM Lead WHERE"`.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import select
import socket
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from leadsync.emulator.faults import Fault, FaultError

CONTROL_PREFIX = "/__emulator/"
REQUEST_ID_KEY = "leadsync.emulator.request_id"
"""environ key holding the request id the middleware gave the request (when the service has one)."""
ROUTE_KEY = "leadsync.emulator.route"
"""environ key a service sets to the matched route pattern ("/v2/address-books/{book_id}")."""
UNMATCHED = "<unmatched>"
"""The route pattern a service names for a request no route of it matches."""
_REQUESTS = "/__emulator/requests"
_RESET_LOG = "/__emulator/reset-log"
_FAULTS = "/__emulator/faults"

ErrorBody = Callable[[int], Any]
"""status -> JSON-able error body in the service's own shape."""

WSGIApp = Callable[..., Iterable[bytes]]


def salesforce_error_body(status: int) -> Any:
    """Salesforce REST errors are a JSON list of {message, errorCode}."""
    codes = {
        400: "MALFORMED_REQUEST",
        401: "INVALID_SESSION_ID",
        403: "REQUEST_LIMIT_EXCEEDED",
        404: "NOT_FOUND",
        429: "REQUEST_LIMIT_EXCEEDED",
        500: "UNKNOWN_EXCEPTION",
        502: "SERVER_UNAVAILABLE",
        503: "SERVER_UNAVAILABLE",
        504: "SERVER_UNAVAILABLE",
    }
    code = codes.get(status, "UNKNOWN_EXCEPTION")
    return [{"message": f"Injected fault: {_reason(status)}", "errorCode": code}]


def dotdigital_error_body(status: int) -> Any:
    """Dotdigital v2 errors are {"message": "<text> ERROR_CODE"}."""
    codes = {
        400: "ERROR_INVALID_REQUEST",
        401: "ERROR_UNAUTHORISED",
        403: "ERROR_FORBIDDEN",
        404: "ERROR_RESOURCE_NOT_FOUND",
        429: "ERROR_RATE_LIMIT_EXCEEDED",
    }
    code = codes.get(status, "ERROR_UNEXPECTED_ERROR")
    return {"message": f"Injected fault: {_reason(status)} {code}"}


DEFAULT_ERROR_BODIES: dict[str, ErrorBody] = {
    "salesforce": salesforce_error_body,
    "dotdigital": dotdigital_error_body,
}


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _status_line(status: int) -> str:
    return f"{status} {_reason(status)}"


class EmulatorControl:
    """Wraps one service's WSGI app. Thread-safe: the servers handle requests on many threads."""

    def __init__(
        self,
        app: WSGIApp,
        service: str,
        *,
        latency_ms: int = 0,
        error_body: ErrorBody | None = None,
        request_id_header: str | None = None,
    ) -> None:
        self.app = app
        self.service = service
        self.latency_ms = latency_ms
        self.request_id_header = request_id_header
        self.error_body = error_body or DEFAULT_ERROR_BODIES.get(service, salesforce_error_body)
        self._lock = threading.Lock()
        self._log: list[dict[str, Any]] = []
        self._counts: Counter[str] = Counter()
        self._counts_by_path: Counter[str] = Counter()
        self._faults: list[Fault] = []
        self._next_fault_id = 1

    # -- public helpers (also used in-process) -------------------------------------------

    def requests_log(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": [dict(r) for r in self._log],
                "counts": dict(self._counts),
                "counts_by_path": dict(self._counts_by_path),
            }

    def reset_log(self) -> None:
        with self._lock:
            self._log.clear()
            self._counts.clear()
            self._counts_by_path.clear()

    def add_fault(self, spec: Any) -> Fault:
        with self._lock:
            fault = Fault.parse(self._next_fault_id, spec)
            self._next_fault_id += 1
            self._faults.append(fault)
            return fault

    def clear_faults(self) -> None:
        """Remove every fault and release the requests their delays still hold."""
        with self._lock:
            for fault in self._faults:
                fault.released.set()
            self._faults.clear()

    # -- WSGI ------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if path.rstrip("/") in (_REQUESTS, _RESET_LOG, _FAULTS):
            return self._control(method, path.rstrip("/"), environ, start_response)
        if path.startswith(CONTROL_PREFIX):
            # Service-specific control route: no latency, no faults, no log.
            return self.app(environ, start_response)

        if self.request_id_header:
            request_id = uuid.uuid4().hex
            environ[REQUEST_ID_KEY] = request_id
            start_response = _with_header(start_response, self.request_id_header, request_id)
        query = urllib.parse.unquote_plus(environ.get("QUERY_STRING", "") or "")
        fault = self._take_fault(method, path, query)
        delay_ms = self.latency_ms + (fault.delay_ms if fault else 0)
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        if fault is not None and fault.delay_ms:
            fault.released.wait(fault.delay_ms / 1000)  # cut short by clear_faults()
        if fault is not None and fault.drops_before:
            self._record(method, path, environ, 0)
            return self._drop(environ)
        if fault is not None and fault.drops_after:
            return self._apply_then_drop(fault, method, path, environ)
        if delay_ms:
            start_response = _with_delay_header(start_response, delay_ms)
        if fault is not None and fault.status is not None:
            self._record(method, path, environ, fault.status)
            return self._fault_response(fault, start_response)
        return self._call_logged(method, path, environ, start_response)

    def _call_logged(
        self, method: str, path: str, environ: dict[str, Any], start_response: Callable
    ) -> Iterable[bytes]:
        seen: list[int] = []

        def capture(status: str, headers: list, exc_info: Any = None) -> Callable:
            seen.append(int(status.split(" ", 1)[0]))
            return start_response(status, headers, exc_info)

        try:
            result = self.app(environ, capture)
        except BaseException:
            self._record(method, path, environ, 500)
            raise
        if seen:
            self._record(method, path, environ, seen[-1])
            return result
        # Lazy apps call start_response on first iteration: record once it has been called.
        return self._record_when_started(result, seen, method, path, environ)

    def _record_when_started(
        self, result: Iterable[bytes], seen: list[int], method: str, path: str, environ: dict
    ) -> Iterable[bytes]:
        recorded = False
        try:
            for chunk in result:
                if not recorded and seen:
                    self._record(method, path, environ, seen[-1])
                    recorded = True
                yield chunk
        finally:
            if not recorded:
                self._record(method, path, environ, seen[-1] if seen else 500)
            close = getattr(result, "close", None)
            if close is not None:
                close()

    def _record(self, method: str, path: str, environ: dict[str, Any], status: int) -> None:
        key_path = self._route(method, path, environ)
        entry = {
            "method": method,
            "path": path,
            "status": status,
            "query": environ.get("QUERY_STRING", ""),
        }
        # Who sent it, as an access log would say: the Basic-auth user (a Dotdigital account)
        # and the caller's X-Leadsync-Client id; only when present, so plain calls log as before.
        user = _basic_auth_user(environ.get("HTTP_AUTHORIZATION", ""))
        if user is not None:
            entry["user"] = user
        client = environ.get("HTTP_X_LEADSYNC_CLIENT")
        if client:
            entry["client"] = client
        if environ.get(REQUEST_ID_KEY):
            entry["request_id"] = environ[REQUEST_ID_KEY]
        with self._lock:
            self._log.append(entry)
            self._counts[f"{method} {key_path}"] += 1
            self._counts_by_path[f"{method} {path}"] += 1

    def _route(self, method: str, path: str, environ: dict[str, Any]) -> str:
        """The route pattern to count under: what the service named, else what it would name."""
        route = environ.get(ROUTE_KEY)
        if route:
            return str(route)
        route_for = getattr(self.app, "route_for", None)
        if route_for is not None:
            try:
                route = route_for(method, path)
            except Exception:  # a counting key must never break the request
                route = None
        return str(route) if route else path

    def _take_fault(self, method: str, path: str, query: str = "") -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path, query):
                    if fault.remaining is not None:
                        fault.remaining -= 1
                    return fault
        return None

    def _fault_response(self, fault: Fault, start_response: Callable) -> Iterable[bytes]:
        assert fault.status is not None
        body = fault.body if fault.has_body else self.error_body(fault.status)
        if isinstance(body, str):
            payload, ctype = body.encode("utf-8"), "text/plain; charset=utf-8"
        elif isinstance(body, bytes):
            payload, ctype = body, "application/octet-stream"
        else:
            payload, ctype = json.dumps(body).encode("utf-8"), "application/json;charset=UTF-8"
        headers = [("Content-Type", ctype), ("Content-Length", str(len(payload)))]
        headers += [(k, v) for k, v in fault.headers.items() if k.lower() != "content-type"]
        headers.append(("X-Emulator-Fault", str(fault.id)))
        start_response(_status_line(fault.status), headers)
        return [payload]

    def _apply_then_drop(
        self, fault: Fault, method: str, path: str, environ: dict[str, Any]
    ) -> Iterable[bytes]:
        """Let the service handle the request to the end, throw its answer away, drop the line.

        The answer body is consumed so a lazy app runs completely; the log shows status 0
        (nothing reached the client), like a drop before the request was applied.
        """

        def swallow(status: str, headers: list, exc_info: Any = None) -> Callable:
            return lambda _data: None

        result = self.app(environ, swallow)
        try:
            for _chunk in result:
                pass
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        self._record(method, path, environ, 0)
        if fault.hold_ms:
            _hold_until_closed(environ.get("werkzeug.socket"), fault.hold_ms / 1000)
        return self._drop(environ)

    @staticmethod
    def _drop(environ: dict[str, Any]) -> Iterable[bytes]:
        """Close the TCP connection without a response.

        shutdown() rather than close(): werkzeug still polls the socket after the app returns,
        and a closed descriptor would make it log a traceback. Raising a ConnectionError is
        what werkzeug treats as "client went away": it stays quiet and drops the connection.
        """
        sock = environ.get("werkzeug.socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        raise ConnectionAbortedError("leadsync emulator: injected drop_connection")

    # -- control routes --------------------------------------------------------------------

    def _control(
        self, method: str, path: str, environ: dict[str, Any], start_response: Callable
    ) -> Iterable[bytes]:
        if path == _REQUESTS and method == "GET":
            return _json(start_response, 200, self.requests_log())
        if path == _RESET_LOG and method == "POST":
            self.reset_log()
            return _json(start_response, 200, {"ok": True})
        if path == _FAULTS and method == "POST":
            try:
                spec = _read_json(environ)
                fault = self.add_fault(spec)
            except FaultError as exc:
                return _json(start_response, 400, {"error": str(exc)})
            return _json(start_response, 201, fault.describe())
        if path == _FAULTS and method == "GET":
            with self._lock:
                faults = [f.describe() for f in self._faults]
            return _json(start_response, 200, {"faults": faults})
        if path == _FAULTS and method == "DELETE":
            self.clear_faults()
            return _json(start_response, 200, {"ok": True})
        return _json(start_response, 405, {"error": f"{method} not allowed on {path}"})


_RULE_ARG = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def route_pattern(rule: str) -> str:
    """A werkzeug rule as a readable pattern: `/v<version:version>/x/<id>` -> `/v{version}/x/{id}`."""
    return _RULE_ARG.sub(r"{\1}", rule)


def _basic_auth_user(header: str) -> str | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    return decoded.partition(":")[0]


def _hold_until_closed(sock: socket.socket | None, limit: float) -> None:
    """Keep the connection silent until the client closes it (readable: EOF) or `limit` s pass.

    select() rather than recv(): on a TLS socket recv() could consume the client's close_notify
    or block; readability is all we need to know that the client has given up.
    """
    if sock is None:
        time.sleep(limit)
        return
    with contextlib.suppress(OSError, ValueError):
        select.select([sock], [], [], limit)


def _with_header(start_response: Callable, name: str, value: str) -> Callable:
    def wrapped(status: str, headers: list, exc_info: Any = None) -> Callable:
        return start_response(status, [*headers, (name, value)], exc_info)

    return wrapped


def _with_delay_header(start_response: Callable, delay_ms: int) -> Callable:
    """Say on the response how long it was held back, so tests can see latency without timing."""

    def wrapped(status: str, headers: list, exc_info: Any = None) -> Callable:
        return start_response(status, [*headers, ("X-Emulator-Delay-Ms", str(delay_ms))], exc_info)

    return wrapped


def _read_json(environ: dict[str, Any]) -> Any:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    raw = environ["wsgi.input"].read(length) if length > 0 else b""
    if not raw.strip():
        raise FaultError("the request body must be a JSON object")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FaultError(f"the request body is not JSON: {exc}") from exc


def _json(start_response: Callable, status: int, body: Any) -> list[bytes]:
    payload = json.dumps(body).encode("utf-8")
    start_response(
        _status_line(status),
        [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))],
    )
    return [payload]
