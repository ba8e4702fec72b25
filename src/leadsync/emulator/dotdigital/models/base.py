"""What every concern of an account shares: its backend, its tables and the canonical-name rule.

An Account is one class composed of mixins (as the Salesforce org is, see
salesforce/models/base.py), one module per concern: datafields, contacts (create, change,
materialise), address books (books, joins, removals, generators), members (reading a book or
the account in order) and limits (rate limit, call counter). Each mixin reads the state
declared here; `Account.__init__` (models/__init__.py) sets it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from leadsync.emulator.dotdigital import exceptions as exc
from leadsync.emulator.dotdigital.books import AddressBook, ContactRecord, Generator

if TYPE_CHECKING:
    from leadsync.emulator.dotdigital.models import DotdigitalBackend
    from leadsync.emulator.dotdigital.models.datafields import DataFieldDef
    from leadsync.emulator.dotdigital.models.limits import RateLimit

# Who may see a datafield or an address book.
VISIBILITIES = ("Private", "Public")


@dataclass
class ImportSettings:
    """How an account's next bulk imports behave (a control route sets it; see imports.py)."""

    pending_polls: int = 0
    outcome: str = "Finished"


class AccountState:
    """Attributes every mixin relies on (set by Account.__init__)."""

    backend: DotdigitalBackend
    name: str
    username: str
    password: str
    id: int
    datafields: dict[str, DataFieldDef]
    books: dict[int, AddressBook]
    contacts: dict[int, ContactRecord]  # materialised, by id
    by_email: dict[str, ContactRecord]  # materialised, by lowercased email
    sorted_ids: list[int]  # materialised ids, ascending
    generators: list[Generator]  # account-wide, creation order
    touched: dict[str, dict[int, int]]  # pattern -> {n: contact id} materialised
    join_updates_modified: bool  # does a book join count as a modification? (models docstring)
    rate_limit: RateLimit | None
    calls: deque[datetime]
    imports: dict[str, Any]  # import id -> imports.ContactImport
    import_settings: ImportSettings
    deletions: dict[str, str]  # bulk member removal id -> status


def checked(value: Any, allowed: tuple[str, ...], what: str) -> str | None:
    """A contact property's canonical spelling; None (not given) stays None."""
    if value is None:
        return None
    name = canon(value, allowed)
    if name is None:
        raise exc.v2_error(400, f"{what} is not valid", "ERROR_CONTACT_INVALID")
    return name


def canon(value: Any, allowed: tuple[str, ...]) -> str | None:
    """The allowed spelling of an enum value given in any case (the service is case-blind)."""
    if not isinstance(value, str):
        return None
    for a in allowed:
        if a.lower() == value.lower():
            return a
    return None


def plain(value: Any) -> str:
    """A non-string value as a String datafield stores it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def visibility_of(value: Any, message: str, code: str) -> str:
    """Private (when not given) or Public, in any case; else a 400 with the caller's words."""
    vis = "Private" if value is None else canon(value, VISIBILITIES)
    if vis is None:
        raise exc.v2_error(400, message, code)
    return vis
