"""Composite and Composite Batch on the wire: read the body, route each subrequest through the
same pipeline as a request of its own (routing, auth check, rules) and answer in Salesforce's
shapes. The limits, the subrequest rules, references and the transaction live in
models/composite.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import urlsplit

from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

from leadsync.emulator.salesforce.models import SalesforceBackend
from leadsync.emulator.salesforce.models.composite import (
    SubAnswer,
    batch_subrequests,
    composite_subrequests,
)
from leadsync.emulator.salesforce.responses.common import json_response, read_json

Runner = Callable[[Request, bool], Response]  # (subrequest, counted) -> answer

_KEPT_HEADERS = ("Location", "ETag", "Last-Modified")


def composite(backend: SalesforceBackend, request: Request, version: str, run: Runner) -> Response:
    """POST /composite {"allOrNone", "compositeRequest": [{"method", "url", "referenceId",
    "body"?, "httpHeaders"?}]}: answers {"compositeResponse": [...]} in order."""
    body = read_json(request)
    subs = composite_subrequests(body)
    answers = backend.run_composite(
        subs,
        bool(body.get("allOrNone", False)),
        lambda sub: _run(sub, request, run, counted=False),  # one API call for all of them
    )
    return json_response(
        {
            "compositeResponse": [
                {
                    "body": a.body,
                    "httpHeaders": a.headers,
                    "httpStatusCode": a.status,
                    "referenceId": a.reference_id,
                }
                for a in answers
            ]
        }
    )


def composite_batch(
    backend: SalesforceBackend, request: Request, version: str, run: Runner
) -> Response:
    """POST /composite/batch {"batchRequests": [{"method", "url", "richInput"?}], "haltOnError"}:
    URLs are relative to /services/data (`v59.0/sobjects/Lead`); answers
    {"hasErrors", "results": [{"statusCode", "result"}]} in order."""
    body = read_json(request)
    subs = batch_subrequests(body)
    answers = backend.run_batch(
        subs,
        bool(body.get("haltOnError", False)),
        lambda sub: _run(sub, request, run, counted=True),  # each subrequest is an API call
    )
    results = [{"statusCode": a.status, "result": a.body} for a in answers]
    has_errors = any(a.failed for a in answers)
    return json_response({"hasErrors": has_errors, "results": results})


def _run(sub: dict, request: Request, run: Runner, *, counted: bool) -> SubAnswer:
    """Route one subrequest with the outer request's Authorization."""
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
    return SubAnswer(
        answer.status_code,
        json.loads(raw) if raw.strip() else None,
        {k: v for k, v in answer.headers.items() if k in _KEPT_HEADERS},
    )
