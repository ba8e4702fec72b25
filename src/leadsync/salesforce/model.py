"""Salesforce facts as leadsync uses them: describe metadata and per-record save results."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class PicklistValue:
    value: str
    label: str
    active: bool
    default: bool


@dataclass(frozen=True, slots=True)
class FieldInfo:
    name: str
    label: str
    type: str  # string, picklist, date, datetime, double, int, boolean, email, phone, ...
    nillable: bool
    createable: bool
    defaulted_on_create: bool
    length: int = 0
    custom: bool = False
    restricted_picklist: bool = False
    picklist_values: tuple[PicklistValue, ...] = ()
    external_id: bool = False  # describe's externalId: usable as an upsert key
    unique: bool = False  # no two records hold the same value

    @property
    def required_on_create(self) -> bool:
        """What the org will reject a create without (booleans are never nillable, never required)."""
        return (
            self.createable
            and not self.nillable
            and not self.defaulted_on_create
            and self.type != "boolean"
        )


@dataclass(frozen=True, slots=True)
class ObjectDescribe:
    name: str
    fields: dict[str, FieldInfo]

    def fingerprint(self) -> str:
        """Stable hash of what matters to leadsync, so saved plans refuse a changed schema."""
        material = sorted(
            (
                f.name,
                f.type,
                f.nillable,
                f.createable,
                f.defaulted_on_create,
                f.restricted_picklist,
                tuple(sorted(v.value for v in f.picklist_values if v.active)),
            )
            for f in self.fields.values()
        )
        return hashlib.sha256(json.dumps(material).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class SaveError:
    status_code: str  # REQUIRED_FIELD_MISSING, DUPLICATES_DETECTED, DUPLICATE_VALUE, ...
    message: str
    fields: tuple[str, ...] = ()
    matched_ids: tuple[str, ...] = ()  # duplicate-rule matches when Salesforce returns them


@dataclass(frozen=True, slots=True)
class SaveResult:
    success: bool
    id: str | None = None
    errors: tuple[SaveError, ...] = field(default=())
    created: bool | None = None  # upserts: True created, False updated; None for plain creates
