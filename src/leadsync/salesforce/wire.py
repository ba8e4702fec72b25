"""Salesforce's answers as leadsync's model: describe, save results, REST error bodies. Pure.

The REST shapes (SaveResult, error lists, describe) are read here and nowhere else, so a shape
the API changes is fixed in one place; nothing here sends a request.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from leadsync.salesforce.errors import RESULT_UNKNOWN, UNABLE_TO_LOCK_ROW
from leadsync.salesforce.model import (
    FieldInfo,
    ObjectDescribe,
    PicklistValue,
    SaveError,
    SaveResult,
)

_EXCERPT = 200


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _plain(value: Any) -> Any:
    """OrderedDicts to dicts, `attributes` dropped (callers want field values)."""
    if isinstance(value, dict):  # what JSON gives (dict or OrderedDict): no ABC check
        return {
            k: v if type(v) in _SCALARS else _plain(v)
            for k, v in value.items()
            if k != "attributes"
        }
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items() if k != "attributes"}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _describe(name: str, raw: Mapping[str, Any]) -> ObjectDescribe:
    fields: dict[str, FieldInfo] = {}
    for f in raw["fields"]:
        if not isinstance(f, Mapping) or not f.get("name"):
            continue
        picklist = tuple(
            PicklistValue(
                value=str(p.get("value")),
                label=str(p.get("label") or p.get("value")),
                active=bool(p.get("active", True)),
                default=bool(p.get("defaultValue", False)),
            )
            for p in (f.get("picklistValues") or [])
            if isinstance(p, Mapping) and p.get("value") is not None
        )
        fields[str(f["name"])] = FieldInfo(
            name=str(f["name"]),
            label=str(f.get("label") or f["name"]),
            type=str(f.get("type") or "string"),
            nillable=bool(f.get("nillable", True)),
            createable=bool(f.get("createable", False)),
            defaulted_on_create=bool(f.get("defaultedOnCreate", False)),
            length=int(f.get("length") or 0),
            custom=bool(f.get("custom", False)),
            restricted_picklist=bool(f.get("restrictedPicklist", False)),
            picklist_values=picklist,
            external_id=bool(f.get("externalId", False)),
            unique=bool(f.get("unique", False)),
            updateable=bool(f.get("updateable", f.get("createable", False))),
        )
    return ObjectDescribe(name=str(raw.get("name") or name), fields=fields)


def _api_error(content: Any) -> tuple[str | None, str, tuple[str, ...]]:
    """(errorCode, message, fields) from a REST error body (a JSON list, usually)."""
    item = content[0] if isinstance(content, list) and content else content
    if isinstance(item, Mapping):
        code = item.get("errorCode") or item.get("statusCode") or item.get("error")
        message = item.get("message") or item.get("error_description") or ""
        fields = tuple(str(f) for f in (item.get("fields") or ()))
        return (str(code) if code else None), _excerpt(str(message)), fields
    return None, _excerpt(str(content or "")), ()


def _save_result(raw: Any) -> SaveResult:
    if not isinstance(raw, Mapping):
        return _failure(RESULT_UNKNOWN, "unreadable result: " + _excerpt(repr(raw)))
    errors = tuple(_save_error(e) for e in (raw.get("errors") or []) if isinstance(e, Mapping))
    success = bool(raw.get("success"))
    if not success and not errors:
        errors = (SaveError("UNKNOWN_ERROR", "Salesforce reported a failure without errors"),)
    created = raw.get("created")
    return SaveResult(
        success=success,
        id=raw.get("id") or None,
        errors=errors,
        created=created if isinstance(created, bool) and success else None,
    )


def _save_error(raw: Mapping[str, Any]) -> SaveError:
    code = str(raw.get("statusCode") or raw.get("errorCode") or "UNKNOWN_ERROR")
    matched: list[str] = []
    duplicate = raw.get("duplicateResult")
    if isinstance(duplicate, Mapping):
        for match in duplicate.get("matchResults") or []:
            if not isinstance(match, Mapping):
                continue
            for record in match.get("matchRecords") or []:
                rec = record.get("record") if isinstance(record, Mapping) else None
                rid = rec.get("Id") or rec.get("id") if isinstance(rec, Mapping) else None
                if rid and rid not in matched:
                    matched.append(str(rid))
    return SaveError(
        status_code=code,
        message=str(raw.get("message") or ""),
        fields=tuple(str(f) for f in (raw.get("fields") or ())),
        matched_ids=tuple(matched),
    )


def _failure(code: str, message: str) -> SaveResult:
    return SaveResult(False, None, (SaveError(code, message),))


def _locked(result: SaveResult | None) -> bool:
    return (
        result is not None
        and not result.success
        and any(e.status_code == UNABLE_TO_LOCK_ROW for e in result.errors)
    )


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _json_values(record: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k): _json_value(v) for k, v in record.items() if k != "attributes"}


def _excerpt(text: str) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= _EXCERPT else flat[: _EXCERPT - 1] + "…"
