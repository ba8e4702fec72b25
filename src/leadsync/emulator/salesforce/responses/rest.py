"""REST resources: describe, sObject rows, query, limits, versions."""

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
    json_response,
    read_json,
    rest_errors,
)
from leadsync.emulator.salesforce.sobjects import SOAP_TYPES, FieldDef, ObjectDef

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
    rule = backend.rule_for_header(obj.name, request.headers.get(AUTO_ASSIGN))
    try:
        new_id = backend.insert(
            obj.name, values, allow_duplicate_save=allow_duplicate_save(request), version=version
        )
    except RecordError as exc:
        return json_response(rest_errors(exc), 400)
    backend.assign(obj.name, new_id, rule)
    created = json_response({"id": new_id, "success": True, "errors": []}, 201)
    created.headers["Location"] = f"/services/data/v{version}/sobjects/{obj.name}/{new_id}"
    return created


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
        record = backend.get(obj.name, record_id)  # 404 NOT_FOUND / ENTITY_IS_DELETED
        try:
            backend.update(obj.name, record["Id"], values)
        except RecordError as exc:
            return json_response(rest_errors(exc), 400)
        return Response(status=204)
    record = backend.get(obj.name, record_id)
    try:
        backend.delete(obj.name, record["Id"])
    except RecordError as exc:
        return json_response(rest_errors(exc), 400)
    return Response(status=204)


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
