"""HTTP routing for the emulated Dotdigital API: `make_app(backend)` returns a WSGI app.

Request handling mirrors what clients meet on the real service: `//` in paths is collapsed,
query parameter names are matched case-insensitively, booleans accept `true`/`True`, v2 bodies
may use PascalCase or camelCase keys, every /v2 and /contacts/v3 request needs HTTP Basic auth
of one account and sees only that account's data, and an account with a seeded rate limit gets
429 plus X-RateLimit-* headers once its window is spent.

Emulator-only control routes (no auth; control.py's middleware adds the generic ones):
  POST /__emulator/accounts/<name>/address-books/<id or name>/generate   body: a generate block
  GET|POST /__emulator/clock                                            body: {"offset_seconds": n}
  POST /__emulator/accounts/<name>/contacts/<email>   body: {"datafields": {...}, "status"?: ...}
       creates or modifies a contact without touching any address book.
  GET|POST /__emulator/accounts/<name>/imports   body: {"pending_polls": n, "outcome": ...}
       how the account's next bulk imports behave (imports.py).

This module routes and runs the request pipeline only; the handlers are in responses.py.
  GET|POST /__emulator/accounts/<name>/settings       body: {"join_updates_modified": bool}
       the account's modelling switches (see the models package: does a book join modify a contact?).

Each request names its rule in `environ[ROUTE_KEY]` (e.g. `/v2/address-books/{book_id}/contacts`;
`<unmatched>` when no rule matches), so the request log counts per endpoint rather than per book;
`route_for` names it for requests a fault answers before they reach the app.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.http import http_date
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from leadsync.emulator.control import ROUTE_KEY, UNMATCHED, route_pattern
from leadsync.emulator.dotdigital import exceptions as exc
from leadsync.emulator.dotdigital import responses as r
from leadsync.emulator.dotdigital.models import Account, DotdigitalBackend

CONTROL = "/__emulator/"
log = logging.getLogger(__name__)

B = "/v2/address-books/<book_id>"
_RULES = [
    Rule("/v2/account-info", endpoint=r.account_info, methods=["GET"]),
    Rule("/v2/server-time", endpoint=r.server_time, methods=["GET"]),
    Rule("/v2/address-books", endpoint=r.books, methods=["GET", "POST"]),
    Rule(B, endpoint=r.book, methods=["GET"]),
    Rule(f"{B}/contacts", endpoint=r.book_contacts, methods=["GET", "POST", "DELETE"]),
    Rule(f"{B}/contacts/<contact_id>", endpoint=r.book_contact, methods=["DELETE"]),
    Rule(f"{B}/contacts/delete", endpoint=r.book_contacts_delete, methods=["POST"]),
    Rule(
        f"{B}/contacts/delete-all",
        endpoint=r.book_contacts_delete,
        methods=["POST"],
        defaults={"everyone": True},
    ),
    Rule(f"{B}/contacts/modified-since/<date>", endpoint=r.book_modified_since, methods=["GET"]),
    Rule(f"{B}/contacts/import", endpoint=r.book_import, methods=["POST"]),
    Rule(
        f"{B}/contacts/import/with-merge-option/<merge>",
        endpoint=r.book_import,
        methods=["POST"],
    ),
    Rule("/v2/contacts/import/<import_id>", endpoint=r.import_status, methods=["GET"]),
    Rule("/v2/contacts/import/<import_id>/report", endpoint=r.import_report, methods=["GET"]),
    Rule(
        "/v2/contacts/import/<import_id>/report-faults",
        endpoint=r.import_report,
        methods=["GET"],
        defaults={"faults": True},
    ),
    Rule("/v2/contacts/deletion/<deletion_id>", endpoint=r.deletion, methods=["GET"]),
    Rule("/v2/contacts/<ident>", endpoint=r.contact, methods=["GET", "PUT"]),
    Rule("/v2/data-fields", endpoint=r.datafields, methods=["GET", "POST"]),
    Rule("/contacts/v3", endpoint=r.v3_contacts, methods=["GET"]),
    Rule("/contacts/v3/import", endpoint=r.v3_import, methods=["PUT"]),
    Rule("/contacts/v3/import/<import_id>", endpoint=r.v3_import_status, methods=["GET"]),
    Rule("/contacts/v3/<identifier>/<value>", endpoint=r.v3_contact, methods=["GET", "PATCH"]),
    Rule(
        "/__emulator/accounts/<name>/address-books/<book>/generate",
        endpoint=r.ctl_generate,
        methods=["POST"],
    ),
    Rule("/__emulator/clock", endpoint=r.ctl_clock, methods=["GET", "POST"]),
    Rule("/__emulator/accounts/<name>/contacts/<email>", endpoint=r.ctl_contact, methods=["POST"]),
    Rule("/__emulator/accounts/<name>/imports", endpoint=r.ctl_imports, methods=["GET", "POST"]),
    Rule("/__emulator/accounts/<name>/settings", endpoint=r.ctl_settings, methods=["GET", "POST"]),
]


def make_app(backend: DotdigitalBackend) -> DotdigitalApp:
    return DotdigitalApp(backend)


class DotdigitalApp:
    def __init__(self, backend: DotdigitalBackend) -> None:
        self.backend = backend
        self.url_map = Map(
            [rule.empty() for rule in _RULES], merge_slashes=False, strict_slashes=False
        )

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        environ["PATH_INFO"] = re.sub(r"/{2,}", "/", environ.get("PATH_INFO") or "/")
        request = Request(environ)
        with self.backend.lock:
            try:
                response = self.dispatch(request)
            except Exception:  # an emulator bug must still answer like the service does
                log.exception(
                    "dotdigital emulator: unhandled error on %s %s", request.method, request.path
                )
                response = r.json_response({"message": "An error has occurred."}, 500)
            # Every answer states the service's time, as any HTTP server does; the emulator's
            # is its own (controllable) clock, so a client that reads it sees one time only.
            response.headers["Date"] = http_date(self.backend.clock.now())
        return response(environ, start_response)

    def route_for(self, method: str, path: str) -> str:
        """The rule pattern `dispatch` would name for this request, without running it."""
        adapter = self.url_map.bind("dotdigital")
        try:
            rule, _values = adapter.match(
                re.sub(r"/{2,}", "/", path or "/"), method=method, return_rule=True
            )
        except HTTPException:
            return UNMATCHED
        return route_pattern(rule.rule)

    # -- dispatch ------------------------------------------------------------------------------

    def dispatch(self, request: Request) -> Response:
        path = request.path
        control = path.startswith(CONTROL)
        v3 = path.startswith("/contacts/v3")
        adapter = self.url_map.bind_to_environ(request.environ)
        request.environ[ROUTE_KEY] = UNMATCHED
        try:
            rule, values = adapter.match(return_rule=True)
            endpoint = rule.endpoint
            request.environ[ROUTE_KEY] = route_pattern(rule.rule)
        except MethodNotAllowed:
            if control:
                return r.json_response({"error": f"{request.method} not allowed on {path}"}, 405)
            return self._error(exc.method_not_allowed(request.method), v3)
        except (NotFound, HTTPException):
            if control:
                return r.json_response({"error": f"unknown control route {path}"}, 404)
            return self._error(exc.no_resource(request.url), v3)
        handler = endpoint
        if control:
            try:
                return handler(self.backend, request, **values)
            except exc.ControlError as e:
                return r.json_response({"error": e.message}, e.status)
            except exc.DotdigitalError as e:
                return r.json_response({"error": e.message}, e.status)
        account = self._authenticate(request)
        if account is None:
            return r.json_response(
                {"message": exc.AUTH_DENIED_MESSAGE},
                401,
                {"WWW-Authenticate": 'Basic realm="dotdigital"'},
            )
        now = self.backend.clock.now()
        limit_headers: dict[str, str] = {}
        if account.rate_limit is not None:
            allowed, limit_headers = account.rate_limit.take(now)
            if not allowed:
                return self._error(exc.RateLimited(limit_headers), v3)
        account.count_call(now)
        args = {k.lower(): v for k, v in request.args.items()}
        try:
            response = handler(request, account, args, **values)
        except (exc.DotdigitalError, exc.V3Error) as e:
            response = self._error(e, v3)
        except exc.ControlError as e:  # a model rule raised in a v2 context
            response = self._error(exc.v2_error(e.status, e.message, "ERROR_PARAMETER_INVALID"), v3)
        response.headers.update(limit_headers)
        return response

    def _authenticate(self, request: Request) -> Account | None:
        auth = request.authorization
        if auth is None or auth.type != "basic" or auth.username is None:
            return None
        return self.backend.account_for(auth.username, auth.password or "")

    def _error(self, error: exc.DotdigitalError | exc.V3Error, v3: bool) -> Response:
        headers = getattr(error, "headers", None)
        if isinstance(error, exc.V3Error):
            return r.json_response(error.body(), error.status, headers)
        if v3 and error.status != 401:
            code = {
                404: "contacts:notFound",
                405: "contacts:methodNotAllowed",
                429: "contacts:tooManyRequests",
            }.get(error.status, "contacts:badRequest")
            text = error.message.rsplit(". ", 1)[0] if error.code else error.message
            return r.json_response({"errorCode": code, "description": text}, error.status, headers)
        return r.json_response(error.body(), error.status, headers)


__all__ = ["DotdigitalApp", "fault_error_body", "make_app"]


def fault_error_body(status: int) -> Any:
    """Body for a fault injected by the shared middleware: Dotdigital's v2 error shape."""
    if status == 401:
        return {"message": exc.AUTH_DENIED_MESSAGE}
    if status == 429:
        return exc.RateLimited({}).body()
    if status == 404:
        return {"message": "Error: ERROR_RESOURCE_NOT_FOUND"}
    if status >= 500:
        return {"message": "An error has occurred."}
    return {"message": "The request is invalid. ERROR_PARAMETER_INVALID"}
