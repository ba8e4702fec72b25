"""Emulator control routes (no auth): tokens, limits, the clock, Lead conversion."""

from __future__ import annotations

import json
from datetime import timedelta

from werkzeug.wrappers import Request, Response

from leadsync.emulator.salesforce.exceptions import ApiError
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


def control_clock(backend: SalesforceBackend, request: Request) -> Response:
    """GET|POST /__emulator/clock {"offset_seconds": n}: the org's clock runs n seconds ahead
    of (or behind) the wall clock. CreatedDate, LastModifiedDate, SystemModstamp, TODAY and
    LAST_N_DAYS, token issue times and JWT expiry all read it."""
    if request.method == "POST":
        body = control_body(request)
        offset = body.get("offset_seconds")
        if not isinstance(offset, int | float) or isinstance(offset, bool):
            raise ApiError(400, "INVALID_INPUT", "offset_seconds must be a number")
        backend.clock.offset = timedelta(seconds=offset)
    return json_response(
        {"offset_seconds": backend.clock.offset.total_seconds(), "now": backend.now()}
    )


def control_body(request: Request) -> dict:
    try:
        data = json.loads(request.get_data(as_text=True) or "{}")
    except ValueError:
        raise ApiError(400, "INVALID_INPUT", "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "INVALID_INPUT", "the body must be a JSON object")
    return data


def control_convert_lead(backend: SalesforceBackend, request: Request, lead_id: str) -> Response:
    """POST /__emulator/leads/{lead_id}/convert {"converted_status"?, "account_id"?,
    "contact_id"?}: convertLead, as a user converting the Lead in the UI; answers the
    LeadConvertResult."""
    body = control_body(request)
    unknown = sorted(set(body) - {"converted_status", "account_id", "contact_id"})
    if unknown:
        raise ApiError(400, "INVALID_INPUT", f"unknown key(s): {', '.join(unknown)}")
    return json_response(
        backend.convert_lead(
            lead_id,
            converted_status=body.get("converted_status"),
            account_id=body.get("account_id"),
            contact_id=body.get("contact_id"),
        )
    )
