"""Composite: subrequests run through the same routing as requests of their own."""

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

# --- Composite -------------------------------------------------------------------------------

MAX_SUBREQUESTS = 25
MAX_QUERY_OR_COLLECTION = 5  # Query, QueryAll, query-more and sObject Collections subrequests
SUBREQUEST_METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE")
_REFERENCE_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_HEAVY = re.compile(r"^/services/data/v\d+\.\d+/(query|queryAll|composite/sobjects)(/|$)")
_INHERITED = ("accept", "authorization", "content-type")


def composite(
    backend: SalesforceBackend,
    request: Request,
    version: str,
    run: Callable[[Request], Response],
) -> Response:
    """POST /composite: up to 25 subrequests in order, answered together with HTTP 200.

    Each subrequest is routed through `run` (the same routing, auth check and rules as a
    request of its own, but not counted: the composite request is ONE API call). Supported
    here: independent subrequests with allOrNone false (each commits on its own, as Salesforce
    does), and allOrNone true for reads (a failure turns every other answer into
    PROCESSING_HALTED). Not emulated: @{reference} values, and rolling back writes under
    allOrNone true; both are refused with a clear 400 rather than answered wrongly.
    """
    body = read_json(request)
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
    all_or_none = bool(body.get("allOrNone", False))
    seen: set[str] = set()
    heavy = 0
    for sub in subs:
        if not isinstance(sub, dict):
            raise json_parser_error("Each compositeRequest item must be a JSON object.")
        ref, method, url = sub.get("referenceId"), sub.get("method"), sub.get("url")
        if not isinstance(ref, str) or not _REFERENCE_ID.match(ref):
            raise ApiError(
                400, "INVALID_INPUT", f"Invalid referenceId {ref!r}: use letters, digits and _"
            )
        if ref in seen:
            raise ApiError(400, "INVALID_INPUT", f"Duplicate referenceId provided: {ref}")
        seen.add(ref)
        if method not in SUBREQUEST_METHODS:
            raise ApiError(400, "INVALID_INPUT", f"Invalid method {method!r} for subrequest {ref}")
        if not isinstance(url, str) or not url.startswith("/services/data/v"):
            raise ApiError(400, "INVALID_INPUT", f"Invalid url {url!r} for subrequest {ref}")
        path = urlsplit(url).path.rstrip("/")
        if re.match(r"^/services/data/v\d+\.\d+/composite$", path):
            raise ApiError(400, "INVALID_INPUT", "A composite request cannot contain /composite")
        if "@{" in json.dumps(sub):
            raise ApiError(
                400,
                "INVALID_INPUT",
                "the emulator does not support @{reference} values in subrequests",
            )
        headers = sub.get("httpHeaders") or {}
        if not isinstance(headers, dict) or any(k.lower() in _INHERITED for k in headers):
            raise ApiError(
                400,
                "INVALID_INPUT",
                f"Subrequest {ref}: Accept, Authorization and Content-Type come from the "
                "composite request and cannot be set in httpHeaders",
            )
        if _HEAVY.match(path):
            heavy += 1
        if all_or_none and method != "GET":
            raise ApiError(
                400,
                "INVALID_INPUT",
                "the emulator does not roll back writes: use allOrNone false for write subrequests",
            )
    if heavy > MAX_QUERY_OR_COLLECTION:
        raise ApiError(
            400,
            "LIMIT_EXCEEDED",
            f"A composite request can have at most {MAX_QUERY_OR_COLLECTION} query or sObject "
            f"Collections subrequests; this one has {heavy}.",
        )
    results: list[dict] = []
    for sub in subs:
        parts = urlsplit(sub["url"])
        headers = {str(k): str(v) for k, v in (sub.get("httpHeaders") or {}).items()}
        headers["Authorization"] = request.headers.get("Authorization", "")
        builder = EnvironBuilder(
            path=parts.path,
            query_string=parts.query,
            method=sub["method"],
            headers=headers,
            data=json.dumps(sub["body"]) if "body" in sub else None,
            content_type="application/json" if "body" in sub else None,
        )
        try:
            answer = run(Request(builder.get_environ()))
        finally:
            builder.close()
        raw = answer.get_data(as_text=True)
        results.append(
            {
                "body": json.loads(raw) if raw.strip() else None,
                "httpHeaders": {
                    k: v
                    for k, v in answer.headers.items()
                    if k in ("Location", "ETag", "Last-Modified")
                },
                "httpStatusCode": answer.status_code,
                "referenceId": sub["referenceId"],
            }
        )
    if all_or_none and any(item["httpStatusCode"] >= 400 for item in results):
        for item in results:
            if item["httpStatusCode"] < 400:
                item.update(
                    body=[
                        {
                            "errorCode": "PROCESSING_HALTED",
                            "message": "The transaction was rolled back since another "
                            "operation in the same transaction failed.",
                        }
                    ],
                    httpHeaders={},
                    httpStatusCode=400,
                )
    return json_response({"compositeResponse": results})
