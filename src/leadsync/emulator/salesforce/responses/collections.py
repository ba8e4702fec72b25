"""sObject Collections: create, retrieve, update, upsert, delete (up to 200 records)."""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from leadsync.emulator.salesforce.exceptions import (
    ApiError,
    RecordError,
    json_parser_error,
)
from leadsync.emulator.salesforce.models import SalesforceBackend
from leadsync.emulator.salesforce.responses.common import (
    MAX_COLLECTION,
    allow_duplicate_save,
    collection_errors,
    json_response,
    read_json,
)


def composite_sobjects(backend: SalesforceBackend, request: Request, version: str) -> Response:
    body = read_json(request)
    records = _collection_records(body)
    items: list[tuple[str, dict]] = []
    for record in records:
        sobject = (record.get("attributes") or {}).get("type") if isinstance(record, dict) else None
        if not sobject:
            raise ApiError(400, "INVALID_TYPE", "Must send a concrete entity type.", [])
        obj = backend.object(sobject)
        items.append((obj.name, backend.convert_json(obj, record)))
    results = backend.insert_many(
        items,
        all_or_none=bool(body.get("allOrNone", False)),
        allow_duplicate_save=allow_duplicate_save(request),
        version=version,
    )
    out = [
        {"success": False, "errors": collection_errors(r.errors)} if isinstance(r, RecordError)
        else {"id": r, "success": True, "errors": []}
        for r in results
    ]  # fmt: skip
    return json_response(out)


def composite_upsert(
    backend: SalesforceBackend, request: Request, version: str, sobject: str, field: str
) -> Response:
    """PATCH composite/sobjects/{SObject}/{ExternalIdField}: up to 200 records created or
    updated by their key, in order; each result is an UpsertResult (SaveResult + `created`)."""
    obj = backend.object(sobject)
    key = backend.external_id_field(obj, field)
    body = read_json(request)
    records = _collection_records(body)
    values: list[dict] = []
    for record in records:
        kind = (record.get("attributes") or {}).get("type") if isinstance(record, dict) else None
        if not kind:
            raise ApiError(400, "INVALID_TYPE", "Must send a concrete entity type.", [])
        if backend.object(kind).name != obj.name:
            raise ApiError(
                400,
                "INVALID_TYPE",
                f"The list can contain objects only of the type in the request URI: {obj.name}",
                [],
            )
        values.append(backend.convert_json(obj, record))
    results = backend.upsert_many(
        obj.name,
        key.name,
        values,
        all_or_none=bool(body.get("allOrNone", False)),
        allow_duplicate_save=allow_duplicate_save(request),
        version=version,
    )
    out = [
        {"success": False, "errors": collection_errors(r.errors), "created": False}
        if isinstance(r, RecordError)
        else {"id": r[0], "success": True, "errors": [], "created": r[1]}
        for r in results
    ]
    return json_response(out)


def _collection_records(body: object) -> list:
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise json_parser_error(
            'Cannot deserialize the request body: expected {"allOrNone": bool, "records": [...]}'
        )
    records = body["records"]
    if len(records) > MAX_COLLECTION:
        raise ApiError(
            400,
            "EXCEEDED_ID_LIMIT",
            "record limit reached. cannot submit more than 200 records into this call",
            [],
        )
    return records
