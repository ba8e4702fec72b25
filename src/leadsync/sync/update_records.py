"""`leadsync records --state conflict|update_failed`: field updates worth a look, field by field.

The ledger's states say what happened to a member's Lead; these two say what happened to a
linked pair's fields on the last run that touched it (state/model.py Link `outcome`/`detail`):
`conflict` fields changed on both sides (Salesforce won), `update_failed` fields one side
refused (a restricted picklist, a value that does not fit the field type, a validation rule).
One row per field: both values and the winner, so the user sees what was kept and what lost.
Reads the state only, like `records` for the ledger states.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from leadsync.state.model import Link, StateStore

UPDATE_STATES: tuple[str, ...] = ("conflict", "update_failed")


@dataclass(frozen=True, slots=True)
class FieldRecord:
    account: str
    book: str
    contact_id: int
    email: str
    record: str  # "Lead 00Q..." / "Contact 003..."
    field: str
    datafield: str
    salesforce: Any
    dotdigital: Any
    winner: str | None
    code: str | None
    reason: str | None
    last_run: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def field_records(
    store: StateStore,
    accounts: list[str],
    state: str,
    names: Mapping[tuple[str, int], str],
) -> Iterator[FieldRecord]:
    """Every field of `state` in the links of `accounts`, link by link."""
    kind = "conflict" if state == "conflict" else "update_failed"
    for account in accounts:
        for link in store.links_with_outcome(account):
            yield from _of_link(link, kind, names)


def _of_link(link: Link, kind: str, names: Mapping[tuple[str, int], str]) -> Iterator[FieldRecord]:
    book = names.get((link.account, int(link.book_id or 0)), f"(address book {link.book_id})")
    for note in link.detail.get("fields") or []:
        if not isinstance(note, dict) or note.get("kind") != kind:
            continue
        yield FieldRecord(
            account=link.account,
            book=book,
            contact_id=link.contact_id,
            email=link.email,
            record=f"{link.sobject} {link.record_id}",
            field=str(note.get("field")),
            datafield=str(note.get("datafield")),
            salesforce=note.get("salesforce"),
            dotdigital=note.get("dotdigital"),
            winner=note.get("winner"),
            code=note.get("code"),
            reason=note.get("reason"),
            last_run=link.last_run,
        )
