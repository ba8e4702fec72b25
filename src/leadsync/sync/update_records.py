"""`leadsync records --state conflict|update_failed`: field updates worth a look, field by field.

The ledger's states say what happened to a member's Lead; these two say what happened to a
linked pair's fields on the last run that touched it (state/model.py Link `outcome`/`detail`):
`conflict` fields changed on both sides (Salesforce won), `update_failed` fields one side
refused (a restricted picklist, a value that does not fit the field type, a validation rule).
One row per field: both values and the winner, so the user sees what was kept and what lost.
Reads the state only, like `records` for the ledger states.
"""

from __future__ import annotations

import json
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


COLUMNS: tuple[tuple[str, str], ...] = (
    ("account", "account"),
    ("email", "email"),
    ("record", "salesforce record"),
    ("field", "field"),
    ("datafield", "datafield"),
    ("salesforce", "salesforce value"),
    ("dotdigital", "dotdigital value"),
    ("winner", "winner"),
    ("last_run", "last run"),
    ("reason", "reason"),
)


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "-"
    return " ".join(str(value).split())


def render_plain(rows: list[FieldRecord], state: str, total: int) -> str:
    line = _summary(rows, state, total)
    if not rows:
        return line + "\n"
    table = [[label for _k, label in COLUMNS]]
    table += [[_cell(getattr(r, key)) for key, _l in COLUMNS] for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(COLUMNS) - 1)]
    out = [
        "  ".join([*(c.ljust(w) for c, w in zip(row, widths, strict=False)), row[-1]]).rstrip()
        for row in table
    ]
    return "\n".join(out) + "\n" + line + "\n"


def render_table(rows: list[FieldRecord], state: str, total: int) -> Any:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    if not rows:
        return Text(_summary(rows, state, total))
    table = Table(title=f"{state} fields", title_justify="left")
    for _key, label in COLUMNS:
        table.add_column(label, overflow="fold")
    for r in rows:
        table.add_row(*(_cell(getattr(r, key)) for key, _l in COLUMNS))
    return Group(table, Text(_summary(rows, state, total)))


def render_json(rows: list[FieldRecord]) -> str:
    return json.dumps([r.as_dict() for r in rows], indent=2, ensure_ascii=False) + "\n"


def _summary(rows: list[FieldRecord], state: str, total: int) -> str:
    what = "conflict" if state == "conflict" else "refused field update"
    if total == 0:
        return f"no {what}s"
    noun = what if total == 1 else f"{what}s"
    if len(rows) < total:
        return f"{total} {noun}, showing the first {len(rows)} (--limit)"
    return f"{total} {noun}"
