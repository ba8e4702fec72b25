"""Emulator control routes (no auth): tokens, limits."""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from leadsync.emulator.salesforce.models import SalesforceBackend
from leadsync.emulator.salesforce.responses.common import (
    json_response,
)


def control_expire_token(backend: SalesforceBackend, request: Request) -> Response:
    count = len(backend.tokens)
    backend.expire_tokens()
    return json_response({"expired": count})


def control_limits(backend: SalesforceBackend, request: Request) -> Response:
    if request.method == "POST":
        body = request.get_json(silent=True) or {}
        backend.set_limits(body.get("used"), body.get("total"))
    return json_response({"used": backend.api_used, "total": backend.api_total})
