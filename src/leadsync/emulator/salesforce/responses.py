"""Wire shapes: JSON bodies, CSV result files, status codes. Rules live in models.py."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from urllib.parse import urlsplit

from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

from leadsync.emulator.salesforce.exceptions import (
    ApiError,
    RecordError,
    SaveErr,
    json_parser_error,
)
from leadsync.emulator.salesforce.models import OAuthError, SalesforceBackend
from leadsync.emulator.salesforce.sobjects import SOAP_TYPES, FieldDef, ObjectDef

JSON_TYPE = "application/json;charset=UTF-8"
CSV_TYPE = "text/csv; charset=UTF-8"
MAX_COLLECTION = 200


def json_response(body: object, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type=JSON_TYPE)


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


# --- describe ---------------------------------------------------------------------------------


def _field_json(backend: SalesforceBackend, obj: ObjectDef, f: FieldDef) -> dict:
    picklist = backend.picklist_for(obj, f) if f.type == "picklist" else []
    return {
        "aggregatable": f.type not in ("textarea", "boolean"),
        "autoNumber": False,
        "byteLength": f.length * 3,
        "calculated": f.name == "Name" and obj.name in ("Lead", "Contact"),
        "caseSensitive": f.case_sensitive,
        "createable": f.createable,
        "custom": f.custom,
        "defaultValue": f.default if f.type == "boolean" else None,
        "defaultedOnCreate": f.defaulted,
        "dependentPicklist": False,
        "digits": 9 if f.type == "int" else 0,
        "externalId": f.external_id,
        "filterable": f.type != "textarea",
        "groupable": f.type not in ("textarea", "double", "currency", "percent", "datetime"),
        "htmlFormatted": False,
        "idLookup": f.name == "Id"
        or f.external_id
        or (f.name == "Email" and obj.name in ("Lead", "Contact")),
        "inlineHelpText": None,
        "label": f.label,
        "length": f.length,
        "name": f.name,
        "nameField": f.name == "Name" or (obj.name == "CampaignMemberStatus" and f.name == "Label"),
        "nillable": f.nillable,
        "permissionable": f.nillable and f.createable,
        "picklistValues": [
            {
                "active": True,
                "defaultValue": is_default,
                "label": value,
                "validFor": None,
                "value": value,
            }
            for value, is_default in picklist
        ],
        "polymorphicForeignKey": False,
        "precision": f.precision,
        "referenceTo": list(f.reference_to),
        "relationshipName": f.relationship_name,
        "restrictedPicklist": f.restricted,
        "scale": f.scale,
        "soapType": SOAP_TYPES.get(f.type, "xsd:string"),
        "sortable": f.type != "textarea",
        "type": f.type,
        "unique": f.unique,
        "updateable": f.updateable,
    }


def _object_summary(obj: ObjectDef, version: str) -> dict:
    base = f"/services/data/v{version}/sobjects/{obj.name}"
    return {
        "activateable": False,
        "createable": obj.createable,
        "custom": False,
        "customSetting": False,
        "deletable": obj.createable,
        "deprecatedAndHidden": False,
        "feedEnabled": False,
        "keyPrefix": obj.key_prefix,
        "label": obj.label,
        "labelPlural": obj.label_plural,
        "layoutable": True,
        "mergeable": obj.name in ("Lead", "Contact"),
        "name": obj.name,
        "queryable": True,
        "replicateable": True,
        "retrieveable": True,
        "searchable": obj.name in ("Lead", "Contact", "Campaign"),
        "triggerable": True,
        "undeletable": obj.createable,
        "updateable": obj.updateable,
        "urls": {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"},
    }


def global_describe(backend: SalesforceBackend, request: Request, version: str) -> Response:
    return json_response(
        {
            "encoding": "UTF-8",
            "maxBatchSize": MAX_COLLECTION,
            "sobjects": [_object_summary(o, version) for o in backend.objects.values()],
        }
    )


def describe(backend: SalesforceBackend, request: Request, version: str, sobject: str) -> Response:
    obj = backend.object(sobject)
    body = _object_summary(obj, version)
    body.update(
        fields=[_field_json(backend, obj, f) for f in obj.fields.values()],
        childRelationships=[],
        recordTypeInfos=[],
        supportedScopes=[],
    )
    return json_response(body)


# --- sobject rows -----------------------------------------------------------------------------


def sobject_root(
    backend: SalesforceBackend, request: Request, version: str, sobject: str
) -> Response:
    obj = backend.object(sobject)
    if request.method == "GET":
        return json_response({"objectDescribe": _object_summary(obj, version), "recentItems": []})
    body = read_json(request)
    if not isinstance(body, dict):
        raise json_parser_error("Cannot deserialize instance of SObject from START_ARRAY value")
    values = backend.convert_json(obj, body)
    try:
        new_id = backend.insert(
            obj.name, values, allow_duplicate_save=allow_duplicate_save(request), version=version
        )
    except RecordError as exc:
        return json_response(rest_errors(exc), 400)
    return json_response({"id": new_id, "success": True, "errors": []}, 201)


def sobject_row(
    backend: SalesforceBackend, request: Request, version: str, sobject: str, record_id: str
) -> Response:
    obj = backend.object(sobject)
    if request.method == "GET":
        record = backend.get(obj.name, record_id)
        wanted = request.args.get("fields")
        names = (
            [obj.get(n.strip()) for n in wanted.split(",")] if wanted else list(obj.fields.values())
        )
        if any(f is None for f in names):
            bad = next(n for n in (wanted or "").split(",") if obj.get(n.strip()) is None)
            raise ApiError(
                400,
                "INVALID_FIELD",
                f"No such column '{bad.strip()}' on sobject of type {obj.name}",
            )
        out = {
            "attributes": {
                "type": obj.name,
                "url": f"/services/data/v{version}/sobjects/{obj.name}/{record['Id']}",
            }
        }
        out.update({f.name: record.get(f.name) for f in names})  # type: ignore[union-attr]
        return json_response(out)
    if request.method == "PATCH":
        body = read_json(request)
        if not isinstance(body, dict):
            raise json_parser_error("Cannot deserialize instance of SObject from START_ARRAY value")
        values = backend.convert_json(obj, body)
        try:
            backend.update(obj.name, record_id, values)
        except RecordError as exc:
            return json_response(rest_errors(exc), 400)
        return Response(status=204)
    backend.delete(obj.name, record_id)
    return Response(status=204)


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


# --- query ------------------------------------------------------------------------------------


def query(
    backend: SalesforceBackend, request: Request, version: str, include_deleted: bool = False
) -> Response:
    text = request.args.get("q")
    if not text:
        raise ApiError(400, "MALFORMED_QUERY", "A query string has to be specified")
    return json_response(backend.query(text, include_deleted=include_deleted, version=version))


def query_more(
    backend: SalesforceBackend, request: Request, version: str, locator: str
) -> Response:
    return json_response(backend.query_more(locator, version))


def limits(backend: SalesforceBackend, request: Request, version: str) -> Response:
    used, total = backend.api_used, backend.api_total
    return json_response(
        {
            "DailyApiRequests": {"Max": total, "Remaining": max(total - used, 0)},
            "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
            "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
            "DataStorageMB": {"Max": 1024, "Remaining": 1024},
        }
    )


def versions(backend: SalesforceBackend, request: Request) -> Response:
    return json_response(
        [
            {"label": "Emulated", "url": f"/services/data/v{v}.0", "version": f"{v}.0"}
            for v in range(52, 63)
        ]
    )


def resources(backend: SalesforceBackend, request: Request, version: str) -> Response:
    base = f"/services/data/v{version}"
    names = ("sobjects", "query", "queryAll", "composite", "limits", "jobs")
    return json_response({n: f"{base}/{n}" for n in names})


# --- Bulk API 2.0 -----------------------------------------------------------------------------


def jobs_root(backend: SalesforceBackend, request: Request, version: str) -> Response:
    if request.method == "GET":
        infos = [job.info() for job in list(backend.jobs.values())]
        return json_response({"done": True, "records": infos, "nextRecordsUrl": None})
    body = read_json(request)
    if not isinstance(body, dict):
        raise json_parser_error("Cannot deserialize the job request")
    return json_response(backend.new_job(body, version).info())


def job(backend: SalesforceBackend, request: Request, version: str, job_id: str) -> Response:
    job = backend.job(job_id)
    if request.method == "GET":
        return json_response(job.info())
    if request.method == "DELETE":
        if job.state not in ("UploadComplete", "JobComplete", "Aborted", "Failed"):
            raise ApiError(
                400, "INVALIDJOBSTATE", f"Deleting a job in state {job.state} is not allowed"
            )
        backend.jobs.pop(job.id, None)
        return Response(status=204)
    body = read_json(request)
    wanted = body.get("state") if isinstance(body, dict) else None
    with backend.lock:
        if wanted == "UploadComplete":
            if job.state != "Open":
                raise ApiError(
                    409, "INVALIDJOBSTATE", f"Closing a job in state {job.state} is not allowed"
                )
            job.state = "UploadComplete"
            info = job.info()
            backend.process_job(job)  # synchronous: the client's first poll sees a terminal state
            return json_response(info)
        if wanted == "Aborted":
            if job.state in ("JobComplete", "Failed", "Aborted"):
                raise ApiError(
                    409, "INVALIDJOBSTATE", f"Aborting a job in state {job.state} is not allowed"
                )
            job.abort()
            return json_response(job.info())
    raise ApiError(400, "INVALIDJOBSTATE", f"Invalid job state transition to {wanted!r}")


def job_batches(
    backend: SalesforceBackend, request: Request, version: str, job_id: str
) -> Response:
    job = backend.job(job_id)
    with backend.lock:
        if job.state != "Open" or job.data is not None:
            raise ApiError(
                409, "INVALIDJOBSTATE", "Job is not in state Open or data was already uploaded"
            )
        job.data = request.get_data()
    return Response(status=201)


RESULT_KINDS = {
    "successfulResults": "successful",
    "failedResults": "failed",
    "unprocessedrecords": "unprocessed",
    "unprocessedRecords": "unprocessed",
}


def job_results(
    backend: SalesforceBackend, request: Request, version: str, job_id: str, kind: str
) -> Response:
    job = backend.job(job_id)
    if kind not in RESULT_KINDS:
        raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
    if job.state not in ("JobComplete", "Failed", "Aborted"):
        raise ApiError(
            409, "INVALIDJOBSTATE", f"Job results are not available in state {job.state}"
        )
    return Response(
        job.results_csv(RESULT_KINDS[kind]).encode("utf-8"), status=200, content_type=CSV_TYPE
    )


# --- OAuth and emulator controls --------------------------------------------------------------


def oauth_token(backend: SalesforceBackend, request: Request) -> Response:
    form = {**request.args.to_dict(), **request.form.to_dict()}
    try:
        return json_response(backend.login(form, request.host_url.rstrip("/")))
    except OAuthError as exc:
        return json_response(exc.body, 400)


def control_expire_token(backend: SalesforceBackend, request: Request) -> Response:
    count = len(backend.tokens)
    backend.expire_tokens()
    return json_response({"expired": count})


def control_limits(backend: SalesforceBackend, request: Request) -> Response:
    if request.method == "POST":
        body = request.get_json(silent=True) or {}
        backend.set_limits(body.get("used"), body.get("total"))
    return json_response({"used": backend.api_used, "total": backend.api_total})
