"""Datafields: an account's typed custom fields, their names, and how a value is stored for its
type (a bad value is ERROR_DATAFIELD_INVALID, an unknown name ERROR_DATAFIELD_NOTFOUND)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from leadsync.emulator.dotdigital import exceptions as exc
from leadsync.emulator.dotdigital.clock import parse_when
from leadsync.emulator.dotdigital.models.base import AccountState, canon, plain, visibility_of

DATAFIELD_TYPES = ("String", "Numeric", "Date", "Boolean")
DATAFIELD_NAME = re.compile(r"[a-zA-Z0-9_-]{1,20}")


@dataclass
class DataFieldDef:
    name: str
    type: str = "String"
    visibility: str = "Private"
    default: Any = None


class Datafields(AccountState):
    """Creating datafields and checking values against them."""

    def create_datafield(
        self, name: Any, type_: Any, visibility: Any = None, default: Any = None
    ) -> DataFieldDef:
        if not isinstance(name, str) or not DATAFIELD_NAME.fullmatch(name):
            raise exc.v2_error(
                400,
                "Data field names may only contain letters, digits, '-' and '_' and be 1 to 20 characters long",
                "ERROR_DATAFIELD_INVALID",
            )
        canon_type = canon(type_, DATAFIELD_TYPES)
        if canon_type is None:
            raise exc.v2_error(
                400,
                "Data field type must be one of String, Numeric, Date, Boolean",
                "ERROR_DATAFIELD_INVALID",
            )
        canon_vis = visibility_of(
            visibility, "Data field visibility must be Private or Public", "ERROR_DATAFIELD_INVALID"
        )
        upper = name.upper()
        if upper in self.datafields:
            raise exc.v2_error(400, "Field already exists", "ERROR_NON_UNIQUE_DATAFIELD")
        if default is not None:
            default = self.coerce(DataFieldDef(upper, canon_type), default)
        df = DataFieldDef(upper, canon_type, canon_vis, default)
        self.datafields[upper] = df
        return df

    def coerce(self, df: DataFieldDef, value: Any) -> Any:
        """A datafield value as stored for its type; bad values give ERROR_DATAFIELD_INVALID."""
        if value is None:
            return None
        bad = exc.v2_error(
            400,
            f"The value for data field {df.name} is not a valid {df.type}",
            "ERROR_DATAFIELD_INVALID",
        )
        if df.type == "String":
            if isinstance(value, (dict, list)):
                raise bad
            return value if isinstance(value, str) else plain(value)
        if df.type == "Numeric":
            if isinstance(value, bool):
                raise bad
            if isinstance(value, (int, float)):
                return value
            try:
                f = float(str(value))
            except ValueError:
                raise bad from None
            return int(f) if f.is_integer() and re.fullmatch(r"-?\d+", str(value).strip()) else f
        if df.type == "Boolean":
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("true", "false"):
                return str(value).lower() == "true"
            raise bad
        # Date
        try:
            t = parse_when(str(value))
        except ValueError:
            raise bad from None
        return t.strftime("%Y-%m-%dT%H:%M:%S")

    def clean_datafields(self, values: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in values.items():
            df = self.datafields.get(str(key).upper())
            if df is None:
                raise exc.v2_error(
                    400, f"Data field {key} does not exist", "ERROR_DATAFIELD_NOTFOUND"
                )
            out[df.name] = self.coerce(df, value)
        return out
