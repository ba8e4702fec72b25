"""HTTP routing for the emulated Dotdigital API: `make_app(backend)` returns a WSGI app.

Request handling mirrors what clients meet on the real service: `//` in paths is collapsed,
query parameter names are matched case-insensitively, booleans accept `true`/`True`, v2 bodies
may use PascalCase or camelCase keys, every /v2 and /contacts/v3 request needs HTTP Basic auth
of one account and sees only that account's data, and an account with a seeded rate limit gets
429 plus X-RateLimit-* headers once its window is spent.

Emulator-only control routes (no auth; C's middleware adds the generic ones):
  POST /__emulator/accounts/<name>/address-books/<id or name>/generate   body: a generate block
  GET|POST /__emulator/clock                                            body: {"offset_seconds": n}
  POST /__emulator/accounts/<name>/contacts/<email>   body: {"datafields": {...}, "status"?: ...}
       creates or modifies a contact without touching any address book.
  GET|POST /__emulator/accounts/<name>/settings       body: {"join_updates_modified": bool}
       the account's modelling switches (see models.py: does a book join modify a contact?).

Each request names its rule in `environ[ROUTE_KEY]` (e.g. `/v2/address-books/{book_id}/contacts`;
`<unmatched>` when no rule matches), so the request log counts per endpoint rather than per book;
`route_for` names it for requests a fault answers before they reach the app.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from collections.abc import Callable, Iterable
from datetime import timedelta
from itertools import islice
from typing import Any
from urllib.parse import urlencode

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from leadsync.emulator.control import ROUTE_KEY, UNMATCHED, route_pattern
from leadsync.emulator.dotdigital import exceptions as exc
from leadsync.emulator.dotdigital import responses as wire
from leadsync.emulator.dotdigital.models import (
    SYSTEM_DATAFIELDS,
    Account,
    ContactRecord,
    DotdigitalBackend,
    parse_when,
)

MAX_SELECT = 1000
MAX_V3_LIMIT = 5000
DEFAULT_V3_LIMIT = 1000
V3_TIME_FILTER = re.compile(r"gte::(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z)")
V3_INCLUDES = ("channelProperties", "lists", "preferences", "consentRecords")
CONTROL = "/__emulator/"
log = logging.getLogger(__name__)

_RULES = [
    Rule("/v2/account-info", endpoint="account_info", methods=["GET"]),
    Rule("/v2/server-time", endpoint="server_time", methods=["GET"]),
    Rule("/v2/address-books", endpoint="books", methods=["GET", "POST"]),
    Rule("/v2/address-books/<book_id>", endpoint="book", methods=["GET"]),
    Rule("/v2/address-books/<book_id>/contacts", endpoint="book_contacts", methods=["GET", "POST"]),
    Rule(
        "/v2/address-books/<book_id>/contacts/modified-since/<date>",
        endpoint="book_modified_since",
        methods=["GET"],
    ),
    Rule("/v2/contacts/<ident>", endpoint="contact", methods=["GET"]),
    Rule("/v2/data-fields", endpoint="datafields", methods=["GET", "POST"]),
    Rule("/contacts/v3", endpoint="v3_contacts", methods=["GET"]),
    Rule("/contacts/v3/<identifier>/<path:value>", endpoint="v3_contact", methods=["GET"]),
    Rule(
        "/__emulator/accounts/<name>/address-books/<book>/generate",
        endpoint="ctl_generate",
        methods=["POST"],
    ),
    Rule("/__emulator/clock", endpoint="ctl_clock", methods=["GET", "POST"]),
    Rule("/__emulator/accounts/<name>/contacts/<email>", endpoint="ctl_contact", methods=["POST"]),
    Rule("/__emulator/accounts/<name>/settings", endpoint="ctl_settings", methods=["GET", "POST"]),
]


def make_app(backend: DotdigitalBackend) -> DotdigitalApp:
    return DotdigitalApp(backend)


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False),
        status=status,
        headers=headers or {},
        content_type="application/json; charset=utf-8",
    )


class DotdigitalApp:
    def __init__(self, backend: DotdigitalBackend) -> None:
        self.backend = backend
        self.url_map = Map([r.empty() for r in _RULES], merge_slashes=False, strict_slashes=False)

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
                response = _json({"message": "An error has occurred."}, 500)
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
                return _json({"error": f"{request.method} not allowed on {path}"}, 405)
            return self._error(exc.method_not_allowed(request.method), v3)
        except (NotFound, HTTPException):
            if control:
                return _json({"error": f"unknown control route {path}"}, 404)
            return self._error(exc.no_resource(request.url), v3)
        handler = getattr(self, f"on_{endpoint}")
        if control:
            try:
                return handler(request, **values)
            except exc.ControlError as e:
                return _json({"error": e.message}, e.status)
            except exc.DotdigitalError as e:
                return _json({"error": e.message}, e.status)
        account = self._authenticate(request)
        if account is None:
            return _json(
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
            return _json(error.body(), error.status, headers)
        if v3 and error.status != 401:
            code = {
                404: "contacts:notFound",
                405: "contacts:methodNotAllowed",
                429: "contacts:tooManyRequests",
            }.get(error.status, "contacts:badRequest")
            text = error.message.rsplit(". ", 1)[0] if error.code else error.message
            return _json({"errorCode": code, "description": text}, error.status, headers)
        return _json(error.body(), error.status, headers)

    # -- v2 ----------------------------------------------------------------------------------------

    def on_account_info(self, request: Request, acct: Account, args: dict[str, str]) -> Response:
        return _json(wire.account_info(acct, request.host_url, self.backend.clock.now()))

    def on_server_time(self, request: Request, acct: Account, args: dict[str, str]) -> Response:
        return _json(wire.iso(self.backend.clock.now()))

    def on_books(self, request: Request, acct: Account, args: dict[str, str]) -> Response:
        if request.method == "POST":
            body = _ci(_body(request))
            book = acct.create_book(body.get("name"), body.get("visibility"))
            return _json(wire.address_book(book), 201)
        select, skip = _paging(args)
        books = sorted(acct.books.values(), key=lambda b: b.id)[skip : skip + select]
        return _json([wire.address_book(b) for b in books])

    def on_book(
        self, request: Request, acct: Account, args: dict[str, str], book_id: str
    ) -> Response:
        return _json(wire.address_book(acct.book(_book_id(book_id))))

    def on_book_contacts(
        self, request: Request, acct: Account, args: dict[str, str], book_id: str
    ) -> Response:
        book = acct.book(_book_id(book_id))
        if request.method == "POST":
            body = _ci(_body(request))
            contact = acct.add_to_book(
                book,
                body.get("email"),
                _v2_datafields(body.get("datafields")),
                body.get("optintype"),
                body.get("emailtype"),
            )
            return _json(wire.v2_contact(acct, contact, True))
        full = _bool(args, "withfulldata")
        select, skip = _paging(args)
        members = islice(acct.book_members(book, skip=skip), select)
        return _json([wire.v2_contact(acct, c, full) for _, c in members])

    def on_book_modified_since(
        self, request: Request, acct: Account, args: dict[str, str], book_id: str, date: str
    ) -> Response:
        book = acct.book(_book_id(book_id))
        try:
            since = parse_when(date)
        except ValueError:
            raise exc.parameter_invalid(f"The date '{date}' is not a valid ISO 8601 date") from None
        full = _bool(args, "withfulldata")
        select, skip = _paging(args)
        members = islice(acct.book_members(book, since, skip=skip), select)
        return _json([wire.v2_contact(acct, c, full) for _, c in members])

    def on_contact(
        self, request: Request, acct: Account, args: dict[str, str], ident: str
    ) -> Response:
        contact = (
            acct.contact_by_id(int(ident)) if ident.isdigit() else acct.contact_by_email(ident)
        )
        if contact is None:
            raise exc.contact_not_found()
        return _json(wire.v2_contact(acct, contact, True))

    def on_datafields(self, request: Request, acct: Account, args: dict[str, str]) -> Response:
        if request.method == "POST":
            body = _ci(_body(request))
            df = acct.create_datafield(
                body.get("name"), body.get("type"), body.get("visibility"), body.get("defaultvalue")
            )
            return _json(wire.datafield(df), 201)
        return _json([wire.datafield(df) for df in acct.datafields.values()])

    # -- v3 ----------------------------------------------------------------------------------------

    def on_v3_contacts(self, request: Request, acct: Account, args: dict[str, str]) -> Response:
        fields = _v3_fields(acct, args.get("data-fields"))
        include = _v3_include(args.get("include"))
        if "~created" in args and "~modified" in args:
            raise exc.V3Error(
                400,
                "contacts:invalidFilter",
                "The ~created and ~modified filters can't be used together",
            )
        if "~listid" in args and "~segmentid" in args:
            raise exc.V3Error(
                400,
                "contacts:invalidFilter",
                "The ~listId and ~segmentId filters can't be used together",
            )
        if "~segmentid" in args:
            raise exc.invalid_filter(args["~segmentid"])
        mode, since = "modified", None
        for key in ("~created", "~modified"):
            if key in args:
                m = V3_TIME_FILTER.fullmatch(args[key])
                if not m:
                    raise exc.invalid_filter(args[key])
                mode, since = key[1:], parse_when(m.group(1))
        limit = DEFAULT_V3_LIMIT
        if "limit" in args:
            raw = args["limit"]
            if not re.fullmatch(r"\d+", raw) or not 1 <= int(raw) <= MAX_V3_LIMIT:
                raise exc.V3Error(
                    400,
                    "contacts:invalidLimit",
                    f"The limit '{raw}' is invalid; it must be between 1 and {MAX_V3_LIMIT}",
                    [{"item": "limit", "description": f"Must be between 1 and {MAX_V3_LIMIT}"}],
                )
            limit = int(raw)
        kind = "l" if "~listid" in args else "a"
        position = _decode_marker(args["marker"], kind) if "marker" in args else 0
        if kind == "l":
            raw_list = args["~listid"]
            book = acct.books.get(int(raw_list)) if re.fullmatch(r"\d+", raw_list) else None
            if book is None:
                raise exc.invalid_filter(raw_list)
            rows = list(
                islice(acct.book_members(book, since, position=position, mode=mode), limit + 1)
            )
            page = [c for _, c in rows[:limit]]
            next_pos = rows[limit][0] if len(rows) > limit else None
        else:
            items = list(islice(_account_stream(acct, mode, since, position), limit + 1))
            page = items[:limit]
            next_pos = page[-1].id if len(items) > limit else None
        base = request.host_url.rstrip("/") + request.path
        params = [(k, v) for k, v in request.args.items(multi=True) if k.lower() != "marker"]

        def link(marker: str) -> dict[str, str]:
            return {"marker": marker, "link": base + "?" + urlencode([*params, ("marker", marker)])}

        links: dict[str, Any] = {
            "self": link(args.get("marker") or _encode_marker(kind, 0)),
            "first": link(_encode_marker(kind, 0)),
        }
        if next_pos is not None:
            links["next"] = link(_encode_marker(kind, next_pos))
        items_out = [wire.v3_contact(acct, c, fields, include) for c in page]
        return _json({"_links": links, "_items": items_out})

    def on_v3_contact(
        self, request: Request, acct: Account, args: dict[str, str], identifier: str, value: str
    ) -> Response:
        """GET /contacts/v3/{identifier}/{value}: one contact with all its data fields (the v3
        spec's "Get a contact by an identifier"; contactId and email are modelled)."""
        kind = identifier.lower()
        if kind == "contactid":
            if not re.fullmatch(r"\d+", value):
                raise exc.V3Error(400, "contacts:invalidId", f"The contact id '{value}' is invalid")
            contact = acct.contact_by_id(int(value))
        elif kind == "email":
            contact = acct.contact_by_email(value)
        else:
            raise exc.V3Error(
                400,
                "contacts:invalidIdentifier",
                f"The identifier '{identifier}' is not supported by the emulator",
            )
        if contact is None:
            raise exc.V3Error(
                404,
                "contacts:contactNotFound",
                "The following contacts could not be found",
                [{"item": value, "description": f"Not found using the identifier '{identifier}'"}],
            )
        return _json(wire.v3_contact(acct, contact, list(acct.datafields), set()))

    # -- control -----------------------------------------------------------------------------------

    def on_ctl_generate(self, request: Request, name: str, book: str) -> Response:
        acct = self._control_account(name)
        target = acct.find_book(book)
        if target is None:
            raise exc.ControlError(404, f"account {name!r} has no address book {book!r}")
        spec = _control_body(request)
        g = acct.generate(target, spec)
        return _json(
            {
                "address_book": wire.address_book(target),
                "generated": {
                    "count": g.count,
                    "first_contact_id": g.id_base,
                    "added_at": wire.iso(g.added_at),
                },
            },
            201,
        )

    def on_ctl_clock(self, request: Request) -> Response:
        clock = self.backend.clock
        if request.method == "POST":
            offset = _control_body(request).get("offset_seconds")
            if not isinstance(offset, (int, float)) or isinstance(offset, bool):
                raise exc.ControlError(400, "offset_seconds must be a number")
            clock.offset = timedelta(seconds=offset)
        return _json({"offset_seconds": clock.offset.total_seconds(), "now": wire.iso(clock.now())})

    def on_ctl_contact(self, request: Request, name: str, email: str) -> Response:
        acct = self._control_account(name)
        spec = _control_body(request)
        values = spec.get("datafields") or {}
        if not isinstance(values, dict):
            raise exc.ControlError(400, "datafields must be an object")
        contact, created = acct.upsert_contact(email, values, status=spec.get("status"))
        return _json({"contact": wire.v2_contact(acct, contact, True)}, 201 if created else 200)

    def on_ctl_settings(self, request: Request, name: str) -> Response:
        acct = self._control_account(name)
        if request.method == "POST":
            spec = _control_body(request)
            unknown = sorted(set(spec) - {"join_updates_modified"})
            if unknown:
                raise exc.ControlError(400, f"unknown setting(s): {', '.join(unknown)}")
            value = spec.get("join_updates_modified", acct.join_updates_modified)
            if not isinstance(value, bool):
                raise exc.ControlError(400, "join_updates_modified must be true or false")
            acct.join_updates_modified = value
        return _json({"join_updates_modified": acct.join_updates_modified})

    def _control_account(self, name: str) -> Account:
        acct = self.backend.accounts.get(name)
        if acct is None:
            raise exc.ControlError(404, f"no account named {name!r}")
        return acct


# -- helpers -----------------------------------------------------------------------------------------


def _body(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(request.get_data(as_text=True) or "null")
    except ValueError:
        raise exc.malformed_request() from None
    if not isinstance(data, dict):
        raise exc.malformed_request("The request body must be a JSON object")
    return data


def _control_body(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(request.get_data(as_text=True) or "{}")
    except ValueError:
        raise exc.ControlError(400, "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise exc.ControlError(400, "the body must be a JSON object")
    return data


def _ci(body: dict[str, Any]) -> dict[str, Any]:
    """PascalCase and camelCase keys alike (Dotdigital's own code posts PascalCase)."""
    return {str(k).lower(): v for k, v in body.items()}


def _v2_datafields(raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise exc.v2_error(
            400, "DataFields must be a list of key/value pairs", "ERROR_CONTACT_INVALID"
        )
    out: dict[str, Any] = {}
    for item in raw:
        if not isinstance(item, dict):
            raise exc.v2_error(
                400, "DataFields must be a list of key/value pairs", "ERROR_CONTACT_INVALID"
            )
        item = _ci(item)
        if not isinstance(item.get("key"), str):
            raise exc.v2_error(400, "Every data field needs a key", "ERROR_CONTACT_INVALID")
        out[item["key"]] = item.get("value")
    return out


def _int(args: dict[str, str], name: str, default: int) -> int:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    if not re.fullmatch(r"-?\d+", raw.strip()):
        raise exc.parameter_invalid(f"The {name} parameter must be a number")
    return int(raw)


def _paging(args: dict[str, str]) -> tuple[int, int]:
    select = _int(args, "select", MAX_SELECT)
    if not 1 <= select <= MAX_SELECT:
        raise exc.parameter_invalid(
            f"The select parameter requires a number between 1 and {MAX_SELECT}"
        )
    skip = _int(args, "skip", 0)
    if skip < 0:
        raise exc.parameter_invalid("The skip parameter must be 0 or more")
    return select, skip


def _bool(args: dict[str, str], name: str) -> bool:
    raw = args.get(name)
    if raw is None or raw == "":
        return False
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise exc.parameter_invalid(f"The {name} parameter must be true or false")


def _book_id(raw: str) -> int:
    if not re.fullmatch(r"\d+", raw):
        raise exc.parameter_invalid(f"The address book id '{raw}' is not a number")
    return int(raw)


def _v3_fields(acct: Account, raw: str | None) -> list[str] | None:
    if raw is None:
        return None
    if raw.strip() == "[[ALL]]":
        return list(acct.datafields)
    out = []
    for name in [p.strip() for p in raw.split("|") if p.strip()]:
        df = acct.datafields.get(name.upper())
        if df is None:
            raise exc.V3Error(
                400,
                "contacts:invalidDataFields",
                f"The data field '{name}' does not exist",
                [{"item": name, "description": "Unknown data field"}],
            )
        out.append(df.name)
    return out


def _v3_include(raw: str | None) -> set[str]:
    if raw is None:
        return set()
    out = set()
    for part in [p.strip() for p in raw.split("|") if p.strip()]:
        match = next((i for i in V3_INCLUDES if i.lower() == part.lower()), None)
        if match is None:
            raise exc.V3Error(
                400,
                "contacts:invalidInclude",
                f"The include value '{part}' is invalid",
                [{"item": part, "description": "Must be one of " + ", ".join(V3_INCLUDES)}],
            )
        out.add(match)
    return out


def _encode_marker(kind: str, position: int) -> str:
    raw = json.dumps({"k": kind, "p": position}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_marker(marker: str, kind: str) -> int:
    try:
        padded = marker + "=" * (-len(marker) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if data["k"] != kind or not isinstance(data["p"], int) or data["p"] < 0:
            raise ValueError(marker)
        return data["p"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise exc.V3Error(
            400, "contacts:invalidMarker", f"The marker '{marker}' is invalid"
        ) from None


def _account_stream(acct: Account, mode: str, since: Any, after_id: int) -> Iterable[ContactRecord]:
    for c in acct.all_contacts(after_id, mode=mode, since=since):
        if since is None or (c.created if mode == "created" else c.updated) >= since:
            yield c


__all__ = ["SYSTEM_DATAFIELDS", "DotdigitalApp", "fault_error_body", "make_app"]


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
