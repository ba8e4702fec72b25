"""Dotdigital facts as leadsync uses them, independent of the wire format (v2 or v3)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class AddressBook:
    id: int
    name: str
    visibility: str
    contacts: int


@dataclass(frozen=True, slots=True)
class DataField:
    name: str
    type: str  # String | Numeric | Date | Boolean
    visibility: str
    default: Any


@dataclass(frozen=True, slots=True)
class Contact:
    id: int
    email: str
    datafields: dict[str, Any]  # {"FIRSTNAME": "Ada", ...}; missing/empty values may be None
    status: str
    created: datetime | None = None
    updated: datetime | None = None
