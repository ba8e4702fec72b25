"""Composite and Composite Batch: subrequests run through the same routing, auth check and
rules as requests of their own.

Composite (`/composite`): up to 25 subrequests in order, ONE API call. A later subrequest can
use an earlier answer through `@{referenceId.path}` (`@{newLead.id}`,
`@{leads.records[0].Id}`) in its URL and body. With allOrNone the whole request is one
transaction: the first failing subrequest keeps its error, the writes before it are rolled
back and every other subrequest answers PROCESSING_HALTED. Without it each subrequest commits on
its own and one that names the answer of a failed (or unknown) subrequest fails alone.

Composite Batch (`/composite/batch`): up to 25 independent subrequests (no references), each
its own transaction and each counted as an API call; haltOnError stops at the first failure
and answers the rest 412 BATCH_PROCESSING_HALTED.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from urllib.parse import urlsplit

from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

from leadsync.emulator.salesforce.exceptions import (
    ApiError,
    json_parser_error,
)
from leadsync.emulator.salesforce.models import SalesforceBackend
from leadsync.emulator.salesforce.responses.common import (
    json_response,
    read_json,
)

Runner = Callable[[Request, bool], Response]  # (subrequest, counted) -> answer


MAX_SUBREQUESTS = 25
MAX_QUERY_OR_COLLECTION = 5  # Query, QueryAll, query-more and sObject Collections subrequests
SUBREQUEST_METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE")
_REFERENCE_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_HEAVY = re.compile(r"^/services/data/v\d+\.\d+/(query|queryAll|composite/sobjects)(/|$)")
_INHERITED = ("accept", "authorization", "content-type")


_REFERENCE = re.compile(r"@\{([A-Za-z][A-Za-z0-9_]*)((?:\.[A-Za-z0-9_]+|\[\d+\])*)\}")
_PATH_PART = re.compile(r"\.([A-Za-z0-9_]+)|\[(\d+)\]")
HALTED = "The transaction was rolled back since another operation in the same transaction failed."
_KEPT_HEADERS = ("Location", "ETag", "Last-Modified")


class UnresolvedReference(Exception):
    pass


def composite(backend: SalesforceBackend, request: Request, version: str, run: Runner) -> Response:
    """POST /composite (see the module docstring)."""
    body = read_json(request)
    subs = _validated(body)
    all_or_none = bool(body.get("allOrNone", False))
    with backend.lock:  # one transaction: no other request interleaves with its writes
        point = backend.savepoint()
        answers: dict[str, object] = {}
        results: list[dict] = []
        failed = False
        for sub in subs:
            if failed and all_or_none:
                results.append(_halted(sub["referenceId"]))
                continue
            try:
                resolved = _resolve(sub, answers)
            except UnresolvedReference as exc:
                item = _item(
                    sub["referenceId"],
                    400,
                    [{"errorCode": "PROCESSING_HALTED", "message": str(exc)}],
                )
            else:
                item = _run(resolved, request, run, counted=False)
                item["referenceId"] = sub["referenceId"]
            if item["httpStatusCode"] < 400:
                answers[sub["referenceId"]] = item["body"]
            else:
                failed = True
            results.append(item)
        if failed and all_or_none:
            backend.rollback_to(point)
            results = [
                r if r["httpStatusCode"] >= 400 else _halted(r["referenceId"]) for r in results
            ]
        backend.release(point)
    return json_response({"compositeResponse": results})


def _validated(body: object) -> list[dict]:
    subs = body.get("compositeRequest") if isinstance(body, dict) else None
    if not isinstance(subs, list) or not subs:
        raise json_parser_error(
            "Cannot deserialize the request body: expected "
            '{"allOrNone": bool, "compositeRequest": [subrequest, ...]}'
        )
    if len(subs) > MAX_SUBREQUESTS:
        raise ApiError(
            400,
            "LIMIT_EXCEEDED",
            f"A composite request can have at most {MAX_SUBREQUESTS} subrequests; "
            f"this one has {len(subs)}.",
        )
    seen: set[str] = set()
    heavy = 0
    for sub in subs:
        if not isinstance(sub, dict):
            raise json_parser_error("Each compositeRequest item must be a JSON object.")
        ref = sub.get("referenceId")
        if not isinstance(ref, str) or not _REFERENCE_ID.match(ref):
            raise ApiError(
                400, "INVALID_INPUT", f"Invalid referenceId {ref!r}: use letters, digits and _"
            )
        if ref in seen:
            raise ApiError(400, "INVALID_INPUT", f"Duplicate referenceId provided: {ref}")
        seen.add(ref)
        path = _checked(sub.get("method"), sub.get("url"), sub.get("httpHeaders"), ref)
        heavy += bool(_HEAVY.match(path))
    if heavy > MAX_QUERY_OR_COLLECTION:
        raise ApiError(
            400,
            "LIMIT_EXCEEDED",
            f"A composite request can have at most {MAX_QUERY_OR_COLLECTION} query or sObject "
            f"Collections subrequests; this one has {heavy}.",
        )
    return subs


def _checked(method: object, url: object, headers: object, name: str) -> str:
    """One subrequest's method, URL and headers (shared by Composite and Batch): its path."""
    if method not in SUBREQUEST_METHODS:
        raise ApiError(400, "INVALID_INPUT", f"Invalid method {method!r} for subrequest {name}")
    if not isinstance(url, str) or not url.startswith("/services/data/v"):
        raise ApiError(400, "INVALID_INPUT", f"Invalid url {url!r} for subrequest {name}")
    path = urlsplit(url).path.rstrip("/")
    if re.match(r"^/services/data/v\d+\.\d+/composite(/batch)?$", path):
        raise ApiError(400, "INVALID_INPUT", "A composite request cannot contain /composite")
    if headers is not None and (
        not isinstance(headers, dict) or any(str(k).lower() in _INHERITED for k in headers)
    ):
        raise ApiError(
            400,
            "INVALID_INPUT",
            f"Subrequest {name}: Accept, Authorization and Content-Type come from the "
            "composite request and cannot be set in httpHeaders",
        )
    return path


def _resolve(sub: dict, answers: dict[str, object]) -> dict:
    """The subrequest with every @{ref.path} replaced by the earlier answer's value."""

    def value(m: re.Match) -> object:
        ref, path = m.group(1), m.group(2)
        if ref not in answers:
            raise UnresolvedReference(_unresolved(ref, path))
        node = answers[ref]
        for key, index in _PATH_PART.findall(path):
            if key and isinstance(node, dict) and key in node:
                node = node[key]
            elif index and isinstance(node, list) and int(index) < len(node):
                node = node[int(index)]
            else:
                raise UnresolvedReference(_unresolved(ref, path))
        return node

    def walk(node: object) -> object:
        if isinstance(node, str):
            whole = _REFERENCE.fullmatch(node)
            if whole:
                return value(whole)
            return _REFERENCE.sub(lambda m: _text(value(m)), node)
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    out = dict(sub)
    out["url"] = _REFERENCE.sub(lambda m: _text(value(m)), sub["url"])
    if "body" in sub:
        out["body"] = walk(sub["body"])
    return out


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _unresolved(ref: str, path: str) -> str:
    return (
        f"Invalid reference specified. No value for {ref}{path} found in {ref}. Provided "
        f"referenceId ('{ref}') must refer to a successful earlier subrequest whose answer "
        "holds that value."
    )


def _run(sub: dict, request: Request, run: Runner, *, counted: bool) -> dict:
    """Route one subrequest with the outer request's Authorization; its answer as an item."""
    parts = urlsplit(sub["url"])
    headers = {str(k): str(v) for k, v in (sub.get("httpHeaders") or {}).items()}
    headers["Authorization"] = request.headers.get("Authorization", "")
    has_body = sub.get("body") is not None
    builder = EnvironBuilder(
        path=parts.path,
        query_string=parts.query,
        method=sub["method"],
        headers=headers,
        data=json.dumps(sub["body"]) if has_body else None,
        content_type="application/json" if has_body else None,
    )
    try:
        answer = run(Request(builder.get_environ()), counted)
    finally:
        builder.close()
    raw = answer.get_data(as_text=True)
    item = _item("", answer.status_code, json.loads(raw) if raw.strip() else None)
    item["httpHeaders"] = {k: v for k, v in answer.headers.items() if k in _KEPT_HEADERS}
    return item


def _item(ref: str, status: int, body: object) -> dict:
    return {"body": body, "httpHeaders": {}, "httpStatusCode": status, "referenceId": ref}


def _halted(ref: str) -> dict:
    return _item(ref, 400, [{"errorCode": "PROCESSING_HALTED", "message": HALTED}])


# --- Composite Batch ----------------------------------------------------------------------------

BATCH_HALTED = [
    {"errorCode": "BATCH_PROCESSING_HALTED", "message": "Batch processing halted per request"}
]


def composite_batch(
    backend: SalesforceBackend, request: Request, version: str, run: Runner
) -> Response:
    """POST /composite/batch {"batchRequests": [{"method", "url", "richInput"?}], "haltOnError"}:
    URLs are relative to /services/data (`v59.0/sobjects/Lead`); answers
    {"hasErrors", "results": [{"statusCode", "result"}]} in order."""
    body = read_json(request)
    subs = body.get("batchRequests") if isinstance(body, dict) else None
    if not isinstance(subs, list) or not subs:
        raise json_parser_error(
            'Cannot deserialize the request body: expected {"batchRequests": [...], "haltOnError": bool}'
        )
    if len(subs) > MAX_SUBREQUESTS:
        raise ApiError(
            400,
            "LIMIT_EXCEEDED",
            f"A batch request can have at most {MAX_SUBREQUESTS} subrequests; this one has {len(subs)}.",
        )
    prepared = []
    for n, sub in enumerate(subs):
        if not isinstance(sub, dict):
            raise json_parser_error("Each batchRequests item must be a JSON object.")
        url = str(sub.get("url") or "")
        url = url if url.startswith("/services/data/") else "/services/data/" + url.lstrip("/")
        _checked(sub.get("method"), url, None, f"#{n}")
        prepared.append({"method": sub["method"], "url": url, "body": sub.get("richInput")})
    halt = bool(body.get("haltOnError", False))
    results: list[dict] = []
    stopped = False
    for sub in prepared:
        if stopped:
            results.append({"statusCode": 412, "result": BATCH_HALTED})
            continue
        item = _run(sub, request, run, counted=True)  # each subrequest is an API call
        results.append({"statusCode": item["httpStatusCode"], "result": item["body"]})
        stopped = halt and item["httpStatusCode"] >= 400
    has_errors = any(r["statusCode"] >= 400 for r in results)
    return json_response({"hasErrors": has_errors, "results": results})
