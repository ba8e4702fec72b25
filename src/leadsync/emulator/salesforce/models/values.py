"""Converting input: JSON bodies and Bulk API CSV cells into typed field values."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

from leadsync.emulator.salesforce import soql
from leadsync.emulator.salesforce.exceptions import (
    ApiError,
    RecordError,
    json_parser_error,
    no_such_column,
    record_error,
)
from leadsync.emulator.salesforce.models.base import OrgState, sf_datetime
from leadsync.emulator.salesforce.sobjects import NUMERIC, STRINGY, FieldDef, ObjectDef

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_JAVA_TYPES = {"boolean": "boolean", "date": "date", "datetime": "datetime", "int": "int"}


def _json_kind(value: object) -> str:
    if isinstance(value, bool):
        return "VALUE_TRUE" if value else "VALUE_FALSE"
    if isinstance(value, int):
        return "VALUE_NUMBER_INT"
    if isinstance(value, float):
        return "VALUE_NUMBER_FLOAT"
    if isinstance(value, dict):
        return "START_OBJECT"
    if isinstance(value, list):
        return "START_ARRAY"
    return "VALUE_STRING"


class Values(OrgState):
    """JSON and CSV input -> {field: value}, with Salesforce's type errors."""

    # --- converting input values ------------------------------------------------------------

    def field_or_invalid(self, obj: ObjectDef, name: str) -> FieldDef:
        f = obj.get(name)
        if f is None:
            raise no_such_column(name, obj.name)
        return f

    def convert_json(self, obj: ObjectDef, raw: dict) -> dict:
        """JSON body -> {canonical field: value}. Unknown fields and wrong JSON types fail the request."""
        out: dict = {}
        for name, value in raw.items():
            if name == "attributes":
                continue
            f = self.field_or_invalid(obj, name)
            out[f.name] = self._json_value(f, value)
        return out

    def _json_value(self, f: FieldDef, value: object) -> object:
        if value is None:
            return None

        def bad() -> ApiError:
            java = _JAVA_TYPES.get(f.type, "double" if f.type in NUMERIC else "String")
            return json_parser_error(
                f"Cannot deserialize instance of {java} from {_json_kind(value)} value {value} "
                "or request may be missing a required field at [line:1, column:1]"
            )

        if isinstance(value, dict | list):
            raise bad()
        t = f.type
        if t in STRINGY:
            if isinstance(value, bool):
                return "true" if value else "false"
            if isinstance(value, float) and value.is_integer():
                return str(int(value))
            return str(value)
        if t == "boolean":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false"):
                return value.lower() == "true"
            raise bad()
        if t in NUMERIC:
            if isinstance(value, bool):
                raise bad()
            try:
                number = float(value)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise bad() from None
            return _numeric(number, t, bad)
        if t == "date":
            if isinstance(value, str) and _valid_date(value):
                return value
            raise bad()
        if t == "datetime":
            if isinstance(value, str):
                try:
                    return sf_datetime(soql.parse_datetime(value))
                except ValueError:
                    pass
            raise bad()
        return value

    def csv_value(self, f: FieldDef, text: str) -> object:
        """One Bulk API CSV cell -> value; empty and #N/A mean null. Bad cells fail the row."""
        if text == "" or text == "#N/A":
            return None
        t = f.type

        def bad() -> RecordError:
            return record_error(
                "INVALID_TYPE_ON_FIELD_IN_RECORD",
                f"{f.label}: value not of required type: {text}",
                [f.name],
            )

        if t in STRINGY:
            return text
        if t == "boolean":
            low = text.strip().lower()
            if low in ("true", "1", "yes", "y"):
                return True
            if low in ("false", "0", "no", "n"):
                return False
            raise bad()
        if t in NUMERIC:
            try:
                number = float(text)
            except ValueError:
                raise bad() from None
            return _numeric(number, t, bad)
        if t == "date":
            candidate = text.strip().removesuffix("Z")
            if _valid_date(candidate):
                return candidate
            raise bad()
        if t == "datetime":
            try:
                return sf_datetime(soql.parse_datetime(text))
            except ValueError:
                raise bad() from None
        return text


def _valid_date(text: str) -> bool:
    if not _DATE.match(text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _numeric(number: float, t: str, bad: Callable[[], Exception]) -> int | float:
    """An int field takes whole numbers only (Salesforce refuses 1.5 rather than cut it)."""
    if t == "int":
        if not number.is_integer():
            raise bad()
        return int(number)
    return number
