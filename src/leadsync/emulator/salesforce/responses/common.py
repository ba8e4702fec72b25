"""Shared wire helpers: JSON bodies, the two error shapes, request headers."""

from __future__ import annotations

import json

from werkzeug.wrappers import Request, Response

from leadsync.emulator.salesforce.exceptions import (
    ApiError,
    RecordError,
    SaveErr,
    json_parser_error,
)

AUTO_ASSIGN = "Sforce-Auto-Assign"  # which Lead assignment rule a REST create or upsert runs
JSON_TYPE = "application/json;charset=UTF-8"
CSV_TYPE = "text/csv; charset=UTF-8"
MAX_COLLECTION = 200


# json.dumps' text; answers are trees built per request, never circular, so the encoder skips
# the per-container cycle bookkeeping (about 15 % of encoding a page of records)
_ENCODE = json.JSONEncoder(check_circular=False).encode


def json_response(body: object, status: int = 200) -> Response:
    return Response(_ENCODE(body), status=status, content_type=JSON_TYPE)


def error_response(exc: ApiError) -> Response:
    return json_response(exc.body(), exc.status)


def read_json(request: Request) -> object:
    raw = request.get_data(as_text=True)
    if not raw.strip():
        raise json_parser_error(
            "The HTTP entity body is required, but this request has no entity body."
        )
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise json_parser_error(
            f"Unexpected character at [line:{exc.lineno}, column:{exc.colno}]"
        ) from None


def allow_duplicate_save(request: Request) -> bool:
    """`Sforce-Duplicate-Rule-Header: allowSave=true[, runAsCurrentUser=...]`."""
    header = request.headers.get("Sforce-Duplicate-Rule-Header", "")
    for part in header.replace(";", ",").split(","):
        key, _, value = part.partition("=")
        if key.strip().lower() == "allowsave" and value.strip().lower() == "true":
            return True
    return False


def rest_errors(exc: RecordError) -> list[dict]:
    """Record errors as a top-level REST error list (errorCode)."""
    return [
        {"message": e.message, "errorCode": e.code, "fields": e.fields, **e.extra}
        for e in exc.errors
    ]


def collection_errors(errors: list[SaveErr]) -> list[dict]:
    """Record errors inside a SaveResult (statusCode)."""
    return [
        {"statusCode": e.code, "message": e.message, "fields": e.fields, **e.extra} for e in errors
    ]
