"""Routing for the Salesforce emulator and the request pipeline (auth, API counter, limit header).

Paths match with or without a trailing slash, as Salesforce does (simple-salesforce sends both).

Each routed request names its rule in `environ[ROUTE_KEY]` (e.g.
`/services/data/v{version}/jobs/ingest/{job_id}/batches`; `<unmatched>` when no rule matches), so
the request log counts per endpoint rather than per id; `app.route_for` names it for requests a
fault answers before they reach the app. A Composite request is counted once under its own rule:
its subrequests run on environs of their own, which the request log never sees.

The daily API counter follows Salesforce: a Composite request is one call whatever it holds;
a Composite Batch request counts each of its subrequests (and not itself).
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterable
from urllib.parse import quote

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import BaseConverter, Map, Rule
from werkzeug.wrappers import Request, Response

from leadsync.emulator.control import ROUTE_KEY, UNMATCHED, route_pattern
from leadsync.emulator.salesforce import responses as r
from leadsync.emulator.salesforce.exceptions import ApiError
from leadsync.emulator.salesforce.models import SalesforceBackend


class VersionConverter(BaseConverter):
    regex = r"\d+\.\d+"


D = "/services/data/v<version:version>"
# Salesforce's edge (server: sfdcedge) names every answer, errors included, with a request id
# of 32 hex digits, the id its support and Event Monitoring (REQUEST_ID) know the request by.
REQUEST_ID_HEADER = "X-SFDC-Request-Id"
# A request URI over 16,384 bytes gets 414 from the edge (Salesforce's REST API request size
# limits); a long query goes in the body of a Composite request instead.
MAX_URI_BYTES = 16_384
URI_TOO_LONG = "<h1>Bad Message 414</h1><pre>reason: URI Too Long</pre>"


def _api_rules() -> list[Rule]:
    return [
        Rule(f"{D}", endpoint=r.resources, methods=["GET"]),
        Rule(f"{D}/sobjects", endpoint=r.global_describe, methods=["GET"]),
        Rule(f"{D}/sobjects/<sobject>", endpoint=r.sobject_root, methods=["GET", "POST"]),
        Rule(f"{D}/sobjects/<sobject>/describe", endpoint=r.describe, methods=["GET"]),
        Rule(
            f"{D}/sobjects/<sobject>/<record_id>",
            endpoint=r.sobject_row,
            methods=["GET", "PATCH", "DELETE"],
        ),
        Rule(f"{D}/query", endpoint=r.query, methods=["GET"]),
        Rule(
            f"{D}/queryAll", endpoint=r.query, methods=["GET"], defaults={"include_deleted": True}
        ),
        Rule(f"{D}/query/<locator>", endpoint=r.query_more, methods=["GET"]),
        Rule(f"{D}/queryAll/<locator>", endpoint=r.query_more, methods=["GET"]),
        Rule(f"{D}/composite", endpoint=r.composite, methods=["POST"]),
        Rule(f"{D}/composite/batch", endpoint=r.composite_batch, methods=["POST"]),
        Rule(
            f"{D}/composite/sobjects",
            endpoint=r.composite_sobjects,
            methods=["POST", "PATCH", "DELETE"],
        ),
        Rule(
            f"{D}/composite/sobjects/<sobject>",
            endpoint=r.composite_retrieve,
            methods=["GET", "POST"],
        ),
        Rule(
            f"{D}/composite/sobjects/<sobject>/<field>",
            endpoint=r.composite_upsert,
            methods=["PATCH"],
        ),
        Rule(f"{D}/limits", endpoint=r.limits, methods=["GET"]),
        Rule(f"{D}/jobs/ingest", endpoint=r.jobs_root, methods=["GET", "POST"]),
        Rule(f"{D}/jobs/ingest/<job_id>", endpoint=r.job, methods=["GET", "PATCH", "DELETE"]),
        Rule(f"{D}/jobs/ingest/<job_id>/batches", endpoint=r.job_batches, methods=["PUT"]),
        Rule(f"{D}/jobs/ingest/<job_id>/<kind>", endpoint=r.job_results, methods=["GET"]),
        Rule(f"{D}/jobs/query", endpoint=r.query_jobs_root, methods=["GET", "POST"]),
        Rule(f"{D}/jobs/query/<job_id>", endpoint=r.query_job, methods=["GET", "PATCH", "DELETE"]),
        Rule(f"{D}/jobs/query/<job_id>/results", endpoint=r.query_job_results, methods=["GET"]),
    ]


def _open_rules() -> list[Rule]:
    return [
        Rule("/services/data", endpoint=r.versions, methods=["GET"]),
        Rule("/services/oauth2/token", endpoint=r.oauth_token, methods=["POST"]),
        Rule("/services/Soap/u/<version:version>", endpoint=r.soap_login, methods=["POST"]),
        Rule("/__emulator/expire-token", endpoint=r.control_expire_token, methods=["POST"]),
        Rule("/__emulator/limits", endpoint=r.control_limits, methods=["GET", "POST"]),
        Rule("/__emulator/clock", endpoint=r.control_clock, methods=["GET", "POST"]),
        Rule(
            "/__emulator/leads/<lead_id>/convert", endpoint=r.control_convert_lead, methods=["POST"]
        ),
    ]


def make_app(backend: SalesforceBackend) -> SalesforceApp:
    """The WSGI app for one org."""
    return SalesforceApp(backend)


class SalesforceApp:
    """One org's WSGI app: routing, authorisation, the API counter and the limit header."""

    def __init__(self, backend: SalesforceBackend) -> None:
        self.backend = backend
        converters = {"version": VersionConverter}
        self.api = Map(_api_rules(), converters=converters, strict_slashes=False).bind("sf")
        self.open_routes = Map(_open_rules(), converters=converters, strict_slashes=False).bind(
            "sf"
        )

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        request = Request(environ)
        if _uri_length(environ) > MAX_URI_BYTES:
            # Salesforce's edge refuses it before the API sees it: not an API call, and the
            # body is its HTML, not JSON. A Composite subrequest's url has no such limit.
            return Response(URI_TOO_LONG, status=414, content_type="text/html")(
                environ, start_response
            )
        try:
            response = self.dispatch(request)
        except ApiError as exc:
            response = r.error_response(exc)
        except Exception:  # an emulator bug: answer like Salesforce does, and say why on stderr
            traceback.print_exc()
            response = r.error_response(
                ApiError(
                    500,
                    "UNKNOWN_EXCEPTION",
                    "An unexpected error occurred in the Salesforce emulator.",
                )
            )
        response.headers["Sforce-Limit-Info"] = self.backend.limit_info()
        return response(environ, start_response)

    def dispatch(self, request: Request, *, counted: bool = True) -> Response:
        """Route one request. Subrequests of a Composite request pass counted=False: the whole
        composite request is one API call, yet each subrequest is routed, authorised and
        ruled exactly like a request of its own."""
        backend = self.backend
        path = request.path.rstrip("/") or "/"
        request.environ[ROUTE_KEY] = UNMATCHED
        try:
            rule, args = self.open_routes.match(path, method=request.method, return_rule=True)
            request.environ[ROUTE_KEY] = route_pattern(rule.rule)
            return rule.endpoint(backend, request, **args)
        except NotFound:
            pass
        except MethodNotAllowed as exc:
            return _method_not_allowed(request, exc)
        try:
            rule, args = self.api.match(path, method=request.method, return_rule=True)
            endpoint = rule.endpoint
            request.environ[ROUTE_KEY] = route_pattern(rule.rule)
        except NotFound:
            if path.startswith("/services/"):
                backend.check_token(request.headers.get("Authorization"))
            return r.error_response(
                ApiError(404, "NOT_FOUND", "The requested resource does not exist")
            )
        except MethodNotAllowed as exc:
            backend.check_token(request.headers.get("Authorization"))
            return _method_not_allowed(request, exc)
        backend.check_token(request.headers.get("Authorization"))
        if counted and endpoint is not r.composite_batch:  # a batch counts its subrequests
            backend.count_request()
        if endpoint in (r.composite, r.composite_batch):
            return endpoint(backend, request, run=self.subrequest, **args)
        return endpoint(backend, request, **args)

    def subrequest(self, request: Request, counted: bool) -> Response:
        try:
            return self.dispatch(request, counted=counted)
        except ApiError as exc:
            return r.error_response(exc)

    def route_for(self, method: str, path: str) -> str:
        """The rule pattern `dispatch` would name for this request, without running it."""
        path = path.rstrip("/") or "/"
        for routes in (self.open_routes, self.api):
            try:
                rule, _args = routes.match(path, method=method, return_rule=True)
            except (NotFound, MethodNotAllowed):
                continue
            return route_pattern(rule.rule)
        return UNMATCHED


def _uri_length(environ: dict) -> int:
    """Bytes of the request-target as the client sent it (path and query string, encoded)."""
    raw = environ.get("REQUEST_URI") or environ.get("RAW_URI")
    if raw:
        return len(str(raw).encode("latin-1", "replace"))
    query = environ.get("QUERY_STRING") or ""
    return len(quote(environ.get("PATH_INFO") or "")) + (len(query) + 1 if query else 0)


def _method_not_allowed(request: Request, exc: MethodNotAllowed) -> Response:
    allowed = ",".join(sorted(m for m in (exc.valid_methods or []) if m not in ("HEAD", "OPTIONS")))
    return r.error_response(
        ApiError(
            405,
            "METHOD_NOT_ALLOWED",
            f"HTTP Method '{request.method}' not allowed. Allowed are {allowed}",
        )
    )
