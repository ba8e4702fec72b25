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
    AUTO_ASSIGN,
    MAX_COLLECTION,
    allow_duplicate_save,
    collection_errors,
    json_response,
    read_json,
)

MAX_RETRIEVE = 2000  # POST retrieve; a GET is bounded by the URL length (~800 ids)


def composite_sobjects(backend: SalesforceBackend, request: Request, version: str) -> Response:
    """/composite/sobjects: POST creates, PATCH updates, DELETE ?ids= deletes."""
    if request.method == "PATCH":
        return _update(backend, request)
    if request.method == "DELETE":
        return _delete(backend, request)
    body = read_json(request)
    records = _collection_records(body)
    items: list[tuple[str, dict]] = []
    for record in records:
        sobject = (record.get("attributes") or {}).get("type") if isinstance(record, dict) else None
        if not sobject:
            raise ApiError(400, "INVALID_TYPE", "Must send a concrete entity type.", [])
        obj = backend.object(sobject)
        items.append((obj.name, backend.convert_json(obj, record)))
    header = request.headers.get(AUTO_ASSIGN)
    rules = {name: backend.rule_for_header(name, header) for name in {n for n, _ in items}}
    results = backend.insert_many(
        items,
        all_or_none=bool(body.get("allOrNone", False)),
        allow_duplicate_save=allow_duplicate_save(request),
        version=version,
    )
    for (name, _), result in zip(items, results, strict=True):
        if isinstance(result, str):
            backend.assign(name, result, rules[name])
    return json_response(_save_results(results))


def _save_results(results: list[str | RecordError]) -> list[dict]:
    """SaveResult / DeleteResult items; a failed one carries no id."""
    return [
        {"success": False, "errors": collection_errors(r.errors)} if isinstance(r, RecordError)
        else {"id": r, "success": True, "errors": []}
        for r in results
    ]  # fmt: skip


def _update(backend: SalesforceBackend, request: Request) -> Response:
    body = read_json(request)
    items: list[tuple[str, object, dict]] = []
    for record in _collection_records(body):
        sobject = (record.get("attributes") or {}).get("type") if isinstance(record, dict) else None
        if not sobject:
            raise ApiError(400, "INVALID_TYPE", "Must send a concrete entity type.", [])
        obj = backend.object(sobject)
        fields = {k: v for k, v in record.items() if k.lower() != "id"}
        rid = next((v for k, v in record.items() if k.lower() == "id"), None)
        items.append((obj.name, rid, backend.convert_json(obj, fields)))
    results = backend.update_many(items, all_or_none=_flag(body.get("allOrNone")))
    return json_response(_save_results(results))


def _delete(backend: SalesforceBackend, request: Request) -> Response:
    ids = [i for i in request.args.get("ids", "").split(",") if i.strip()]
    if not ids:
        raise ApiError(400, "MISSING_ARGUMENT", "ids parameter is required", ["ids"])
    if len(ids) > MAX_COLLECTION:
        raise _too_many(MAX_COLLECTION)
    results = backend.delete_many(
        [i.strip() for i in ids], all_or_none=_flag(request.args.get("allOrNone"))
    )
    return json_response(_save_results(results))


def _flag(value: object) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _too_many(limit: int) -> ApiError:
    return ApiError(
        400,
        "EXCEEDED_ID_LIMIT",
        f"record limit reached. cannot submit more than {limit} records into this call",
        [],
    )


def composite_retrieve(
    backend: SalesforceBackend, request: Request, version: str, sobject: str
) -> Response:
    """GET ?ids=&fields= or POST {"ids": [...], "fields": [...]}: one record (or null) per id."""
    if request.method == "GET":
        ids: object = [i.strip() for i in request.args.get("ids", "").split(",") if i.strip()]
        fields: object = [f.strip() for f in request.args.get("fields", "").split(",") if f.strip()]
    else:
        body = read_json(request)
        ids = body.get("ids") if isinstance(body, dict) else None
        fields = body.get("fields") if isinstance(body, dict) else None
    for name, value in (("ids", ids), ("fields", fields)):
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise ApiError(
                400, "MISSING_ARGUMENT", f"{name} is required: a list of strings", [name]
            )
    if len(ids) > MAX_RETRIEVE:  # type: ignore[arg-type]
        raise _too_many(MAX_RETRIEVE)
    return json_response(backend.retrieve(sobject, ids, fields, version))  # type: ignore[arg-type]


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
    rule = backend.rule_for_header(obj.name, request.headers.get(AUTO_ASSIGN))
    results = backend.upsert_many(
        obj.name,
        key.name,
        values,
        all_or_none=bool(body.get("allOrNone", False)),
        allow_duplicate_save=allow_duplicate_save(request),
        version=version,
    )
    for result in results:
        if isinstance(result, tuple) and result[1]:  # the rule runs on the records it creates
            backend.assign(obj.name, result[0], rule)
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
        raise _too_many(MAX_COLLECTION)
    return records
