"""Datafield values -> Salesforce Lead field values, converted to each field's type. Pure.

Why local conversion: a value Salesforce would refuse (a date in an odd format, a word in a
number field, a label instead of a restricted picklist value, a string longer than the field)
should fail that one record with a reason the user can act on, before an API call is spent and
without putting the rest of the batch at risk. Conversion never guesses: an ambiguous value
("03/04/2025", "1,5") fails rather than being read one way by us and meant another by the user.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from json import encoder as _json_encoder
from typing import Any

from leadsync.emails import normalise_email as normalise_email  # the sync imports it from here
from leadsync.leadrules import (
    LEAD_FIELD_DEFAULTS,
    REQUIRED_LEAD_FIELDS,
    SET_BY_LEADSYNC,
    WRITING_DIRECTIONS,
)
from leadsync.salesforce.model import FieldInfo

# Every created Lead must have these, whatever describe says (leadrules.py says why).
ALWAYS_REQUIRED: tuple[str, ...] = REQUIRED_LEAD_FIELDS
# Fields the sync sets itself; describe's required-on-create never asks the mapping for them.
SYNC_OWNED: frozenset[str] = SET_BY_LEADSYNC

_NUMBER_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_INT_RE = re.compile(r"^[+-]?\d+$")
_ISO_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_ISO_DATETIME_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$"
)
SF_FIRST_DAY = date(1700, 1, 1)
SF_LAST_DAY = date(4000, 12, 31)
_TRUE = frozenset({"true", "yes", "y", "1", "on"})
_FALSE = frozenset({"false", "no", "n", "0", "off"})
# Characters no Salesforce text field stores (XML 1.0 forbids them; the platform rejects them).
_FORBIDDEN_CHARS_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True, slots=True)
class Row:
    """One applied lead-mapping row, as the sync needs it (no file positions: applied state)."""

    salesforce: str
    datafield: str
    direction: str

    @property
    def writes(self) -> bool:
        return self.direction in WRITING_DIRECTIONS


@dataclass(frozen=True, slots=True)
class FieldProblem:
    field: str  # Salesforce field name
    code: str  # a Salesforce-like status code, e.g. INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST
    message: str


@dataclass(frozen=True, slots=True)
class Mapped:
    """The outcome of mapping one member: a record to write, or why it cannot be written."""

    record: dict[str, Any]  # Salesforce field -> converted value (Email and Status included)
    missing: tuple[str, ...]  # Lead fields that need a value and have none (sorted)
    problems: tuple[FieldProblem, ...]  # values that cannot be converted
    data_hash: str


@dataclass(frozen=True, slots=True)
class LeadMapping:
    """Everything needed to turn a member into a Lead: applied rows + the org's Lead describe."""

    rows: tuple[Row, ...]
    fields: Mapping[str, FieldInfo]  # Lead describe
    lead_status: str
    # Lead field -> value every created Lead carries (leadrules.LEAD_FIELD_DEFAULTS, as set)
    constants: Mapping[str, str] = field(default_factory=dict)
    # Derived once at construction (the mapping is immutable for a run, and these were
    # recomputed for every member: the describe's required fields alone cost ~35 property
    # evaluations per member).
    _writing_rows: tuple[Row, ...] = field(init=False, repr=False, compare=False, default=())
    _datafields: tuple[str, ...] = field(init=False, repr=False, compare=False, default=())
    _required: tuple[str, ...] = field(init=False, repr=False, compare=False, default=())
    _fingerprint: str = field(init=False, repr=False, compare=False, default="")
    # (row, its Lead field's describe or None) for each writing row: map_member's loop
    _plan: tuple[tuple[Row, FieldInfo | None], ...] = field(
        init=False, repr=False, compare=False, default=()
    )

    def __post_init__(self) -> None:
        writing = tuple(r for r in self.rows if r.writes)
        org = (
            name
            for name, info in self.fields.items()
            if info.required_on_create and name not in SYNC_OWNED
        )
        material = [[r.salesforce, r.datafield, r.direction] for r in self.rows]
        object.__setattr__(self, "_writing_rows", writing)
        object.__setattr__(
            self, "_plan", tuple((r, self.fields.get(r.salesforce)) for r in writing)
        )
        object.__setattr__(self, "_datafields", tuple(dict.fromkeys(r.datafield for r in writing)))
        object.__setattr__(self, "_required", tuple(sorted(set(ALWAYS_REQUIRED) | set(org))))
        basis: dict[str, Any] = {"rows": material, "status": self.lead_status}
        if self.constants:  # only when set: the fingerprints of existing states stay as they were
            basis["constants"] = dict(sorted(self.constants.items()))
        object.__setattr__(self, "_fingerprint", _sha(basis)[:16])

    @property
    def writing_rows(self) -> tuple[Row, ...]:
        return self._writing_rows

    @property
    def datafields(self) -> tuple[str, ...]:
        """Datafields to read from Dotdigital: only those a written field needs."""
        return self._datafields

    def required(self) -> tuple[str, ...]:
        """Lead fields a member must have a value for: the three every Lead needs (leadrules.py) + org-required fields."""
        return self._required

    def fingerprint(self) -> str:
        """Changes when the applied mapping (or the status and constants it writes) changes."""
        return self._fingerprint


def data_hash(email: str, values: Mapping[str, Any], mapping: LeadMapping) -> str:
    """Hash of the member's mapped values + the mapping: permanent outcomes retry on change."""
    picked = {df: values.get(df) for df in mapping.datafields}
    return _sha({"email": email.strip(), "values": picked, "mapping": mapping.fingerprint()})


def map_member(email: str, values: Mapping[str, Any], mapping: LeadMapping) -> Mapped:
    """Build the Lead record for one member, converting each value to its field's type."""
    record: dict[str, Any] = {}
    problems: list[FieldProblem] = []
    present: set[str] = set()
    for row, info in mapping._plan:
        raw = values.get(row.datafield)
        if raw is None or (isinstance(raw, str) and (not raw or raw.isspace())):  # _is_blank
            continue
        if info is None:
            problems.append(
                FieldProblem(
                    row.salesforce,
                    "INVALID_FIELD",
                    f"{row.salesforce} does not exist on Lead (mapped from {row.datafield})",
                )
            )
            continue
        try:
            record[row.salesforce] = convert(raw, info)
            present.add(row.salesforce)
        except ConversionError as exc:
            problems.append(FieldProblem(row.salesforce, exc.code, f"{row.datafield}: {exc}"))
    stripped = email.strip()
    email_info = mapping.fields.get("Email")
    if email_info is not None and email_info.length and len(stripped) > email_info.length:
        problems.append(
            FieldProblem(
                "Email",
                "STRING_TOO_LONG",
                f"email is {len(stripped)} characters, Email allows {email_info.length}",
            )
        )
    record["Email"] = stripped
    record["Status"] = mapping.lead_status
    record.update(mapping.constants)
    failed_fields = {p.field for p in problems}
    missing = tuple(f for f in mapping._required if f not in present and f not in failed_fields)
    return Mapped(record, missing, tuple(problems), data_hash(email, values, mapping))


class ConversionError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def convert(value: Any, info: FieldInfo) -> Any:
    """One value to what Salesforce expects for `info.type` (JSON-able; bulk writes it as text)."""
    typed = _TYPED.get(info.type)
    if typed is None:  # text fields: most of them
        return _to_text(value, info)
    return typed(value, info)


def _to_date_text(value: Any, info: FieldInfo) -> str:
    return _in_range(_to_date(value), value).isoformat()


def _to_datetime_text(value: Any, info: FieldInfo) -> str:
    moment = _to_datetime(value)
    _in_range(moment.date(), value)
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}.000Z"
    )


def _to_multipicklist(value: Any, info: FieldInfo) -> str:
    parts = [p.strip() for p in _to_text(value, info).split(";")]
    return ";".join(_to_picklist(p, info) for p in parts if p)


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and (not value or value.isspace()))


def _to_text(value: Any, info: FieldInfo) -> str:
    if type(value) is str:  # nearly every datafield value
        text = value
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))
    elif isinstance(value, datetime | date):
        text = value.isoformat()
    else:
        text = str(value)
    bad = _FORBIDDEN_CHARS_RE.search(text)
    if bad:
        raise ConversionError(
            "INVALID_CHARACTERS",
            f"contains the control character U+{ord(bad.group()):04X}, which Salesforce cannot store",
        )
    if info.length and len(text) > info.length:
        raise ConversionError(
            "STRING_TOO_LONG",
            f"value is {len(text)} characters, {info.name} allows {info.length}",
        )
    return text


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConversionError(
        "INVALID_TYPE", f"{_show(value)} is not a boolean (true/false, yes/no, 1/0)"
    )


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ConversionError("INVALID_TYPE", f"{_show(value)} is not a whole number")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return int(value)
        raise ConversionError("INVALID_TYPE", f"{_show(value)} is not a whole number")
    text = str(value).strip()
    if _INT_RE.match(text):
        return int(text)
    if _NUMBER_RE.match(text):
        number = Decimal(text)
        if number == number.to_integral_value():
            return int(number)
    raise ConversionError("INVALID_TYPE", f"{_show(value)} is not a whole number")


def _to_number(value: Any) -> int | float:
    if isinstance(value, bool):
        raise ConversionError("INVALID_TYPE", f"{_show(value)} is not a number")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        raise ConversionError("INVALID_TYPE", f"{_show(value)} is not a finite number")
    text = str(value).strip()
    if not _NUMBER_RE.match(text):
        raise ConversionError(
            "INVALID_TYPE", f"{_show(value)} is not a number (digits, optional sign and '.')"
        )
    try:
        number = Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only valid decimals
        raise ConversionError("INVALID_TYPE", f"{_show(value)} is not a number") from exc
    if number == number.to_integral_value() and "e" not in text.lower() and "." not in text:
        return int(number)
    result = float(number)
    if not math.isfinite(result):
        raise ConversionError("INVALID_TYPE", f"{_show(value)} is out of range")
    return result


# Field types with a conversion of their own (convert); every other type is text.
_TYPED: dict[str, Callable[[Any, FieldInfo], Any]] = {
    "boolean": lambda value, info: _to_bool(value),
    "int": lambda value, info: _to_int(value),
    "double": lambda value, info: _to_number(value),
    "currency": lambda value, info: _to_number(value),
    "percent": lambda value, info: _to_number(value),
    "date": _to_date_text,
    "datetime": _to_datetime_text,
    "picklist": lambda value, info: _to_picklist(_to_text(value, info), info),
    "multipicklist": _to_multipicklist,
}


def _in_range(day: date, value: Any) -> date:
    """Salesforce stores dates from 1700-01-01 to 4000-12-31 only."""
    if not SF_FIRST_DAY <= day <= SF_LAST_DAY:
        raise ConversionError(
            "INVALID_TYPE", f"{_show(value)} is outside the dates Salesforce stores (1700 to 4000)"
        )
    return day


def _to_date(value: Any) -> date:
    if isinstance(value, datetime):
        return _as_utc(value).date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    match = _ISO_DATE_RE.match(text)
    try:
        if match:
            return date(int(match[1]), int(match[2]), int(match[3]))
        if _ISO_DATETIME_RE.match(text):
            return _as_utc(_parse_iso_datetime(text)).date()
    except ValueError as exc:
        raise ConversionError("INVALID_TYPE", f"{_show(value)} is not a valid date: {exc}") from exc
    raise ConversionError(
        "INVALID_TYPE", f"{_show(value)} is not a date (expected YYYY-MM-DD or ISO 8601)"
    )


def _to_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return _as_utc(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    text = str(value).strip()
    try:
        if _ISO_DATE_RE.match(text):
            parsed = date.fromisoformat(text)
            return datetime(parsed.year, parsed.month, parsed.day, tzinfo=UTC)
        if _ISO_DATETIME_RE.match(text):
            return _as_utc(_parse_iso_datetime(text))
    except ValueError as exc:
        raise ConversionError(
            "INVALID_TYPE", f"{_show(value)} is not a valid date-time: {exc}"
        ) from exc
    raise ConversionError("INVALID_TYPE", f"{_show(value)} is not a date-time (expected ISO 8601)")


def _parse_iso_datetime(text: str) -> datetime:
    text = text.replace(" ", "T", 1)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    head, dot, tail = text.partition(".")
    if dot:  # fromisoformat takes at most 6 fractional digits
        digits = re.match(r"\d+", tail)
        frac = digits.group() if digits else ""
        text = f"{head}.{frac[:6].ljust(6, '0')}{tail[len(frac) :]}"
    return datetime.fromisoformat(text)


def _as_utc(moment: datetime) -> datetime:
    """Dotdigital sends UTC; a zone-less value is read as UTC rather than as local time."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _to_picklist(text: str, info: FieldInfo) -> str:
    """Exact API value, else a case-insensitive match on value or label (labels "don't stick")."""
    active = [v for v in info.picklist_values if v.active]
    for v in active:
        if v.value == text:
            return v.value
    folded = text.strip().casefold()
    for v in active:
        if v.value.casefold() == folded or v.label.casefold() == folded:
            return v.value
    if info.restricted_picklist:
        allowed = ", ".join(v.value for v in active[:10]) + (", ..." if len(active) > 10 else "")
        raise ConversionError(
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            f"{_show(text)} is not an allowed value of the restricted picklist {info.name} "
            f"({allowed})",
        )
    return text


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# Built once (json.dumps would build one per call, twice per member); the same text.
_HASH_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False, default=str)
# The C encoder behind it, made once too (JSONEncoder.encode makes one per call); the hashed
# material is built fresh from JSON values, so it has no cycles to check for.
_HASH_C = (
    _json_encoder.c_make_encoder(
        None, str, _json_encoder.encode_basestring, None, ": ", ", ", True, False, True
    )
    if _json_encoder.c_make_encoder is not None
    else None
)


def _sha(material: Any) -> str:
    text = _HASH_ENCODER.encode(material) if _HASH_C is None else "".join(_HASH_C(material, 0))
    return hashlib.sha256(text.encode()).hexdigest()


def missing_reason(missing: Sequence[str], mapping: LeadMapping) -> str:
    """A sentence naming each missing Lead field and the datafield that should hold it."""
    by_field = {r.salesforce: r.datafield for r in mapping.writing_rows}
    parts = []
    for name in missing:
        df = by_field.get(name)
        parts.append(
            f"{name} (datafield {df} is empty)" if df else f"{name} (required, not mapped)"
        )
    return "missing " + ", ".join(parts)


def lead_constants(defaults: object) -> dict[str, str]:
    """The Lead fields `defaults:` sets on every created Lead (leadrules.LEAD_FIELD_DEFAULTS),
    those with a value only."""
    out = {}
    for key, lead_field in LEAD_FIELD_DEFAULTS.items():
        value = getattr(defaults, key, None)
        if value:
            out[lead_field] = str(value)
    return out
