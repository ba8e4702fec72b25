"""Dotdigital facts as leadsync uses them, independent of the wire format (v2 or v3)."""

from __future__ import annotations

from dataclasses import dataclass, field
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


@dataclass(frozen=True, slots=True)
class ImportOutcome:
    """What a bulk contact import did, per email (lower-cased), once it is no longer running.

    `status`: Finished, or why it ended without writing (RejectedByWatchdog, Failed, ...), or
    NotFinished when it was still running after the client stopped asking.
    """

    import_id: str
    status: str
    created: dict[str, int] = field(default_factory=dict)  # email -> contact id
    updated: dict[str, int] = field(default_factory=dict)
    failures: dict[str, tuple[str, str]] = field(default_factory=dict)  # email -> (code, text)
    # Failures that name the contact id (imports matched by contactId have no email to key by)
    failed_ids: dict[int, tuple[str, str]] = field(default_factory=dict)
    unnamed_failures: int = 0  # failures naming no contact id (e.g. contactNotFound)

    @property
    def finished(self) -> bool:
        return self.status == "Finished"

    @property
    def running(self) -> bool:
        return self.status == "NotFinished"
