"""What `leadsync records` prints: the ledger's records in one state (sync/records.py selects
them) or the linked fields in conflict / refused (sync/update_records.py), as a rich table on a
terminal, aligned plain columns for logs, pipes and grep (one record per line, no colour, no
wrapping), or a JSON list. Cells are one line each: a reason with newlines must not break the
columns. `campaign_cell` is also the audit's records page (ui/records.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from leadsync.sync.records import Record, Selection
from leadsync.sync.update_records import FieldRecord
from leadsync.views import Outcome

COLUMNS: tuple[tuple[str, str], ...] = (
    ("account", "account"),
    ("book", "address book"),
    ("contact_id", "contact id"),
    ("email", "email"),
    ("origin", "origin"),
    ("reason_code", "reason code"),
    ("fields", "fields"),
    ("salesforce_id", "lead / matched id"),
    ("campaign", "campaign member"),
    ("last_run", "last run"),
    ("reason", "reason"),  # last: long sentences do not push the other columns apart
)
LAST_ERROR_COLUMN = ("last_error", "last error")  # after reason, when any record has one
FIELD_COLUMNS: tuple[tuple[str, str], ...] = (
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


def records_outcome(selection: Selection, *, as_json: bool) -> Outcome:
    if as_json:
        return Outcome(render_json(selection), raw=True)
    table = _on_terminal(lambda: render_table(selection))
    return Outcome(table or render_plain(selection), raw=True)


def field_records_outcome(
    rows: list[FieldRecord], state: str, total: int, *, as_json: bool
) -> Outcome:
    if as_json:
        return Outcome(render_field_json(rows), raw=True)
    table = _on_terminal(lambda: render_field_table(rows, state, total))
    return Outcome(table or render_field_plain(rows, state, total), raw=True)


def _on_terminal(renderable: Callable[[], Any]) -> str | None:
    """The rich rendering as the terminal shows it (colours, its width), or None when stdout is
    no terminal (FORCE_COLOR counts as one, as rich has it)."""
    from rich.console import Console

    out = Console(highlight=False)
    if not out.is_terminal:
        return None
    with out.capture() as captured:
        out.print(renderable())
    return captured.get()


def columns(selection: Selection) -> tuple[tuple[str, str], ...]:
    """COLUMNS, plus "last error" when a listed record has one (pending ones, mostly)."""
    if any(r.last_error for r in selection.records):
        return (*COLUMNS, LAST_ERROR_COLUMN)
    return COLUMNS


def cells(record: Record, cols: tuple[tuple[str, str], ...] = COLUMNS) -> list[str]:
    values = {
        **record.as_dict(),
        "fields": ", ".join(record.fields),
        "salesforce_id": record.lead_id or record.matched_id,
        "last_error": _error_cell(record.last_error),
        "campaign": campaign_cell(record),
    }
    return [_one_line(values[key]) for key, _label in cols]


def _error_cell(error: dict[str, Any] | None) -> str | None:
    if not error:
        return None
    return f"{error.get('class')}: {error.get('message')}"


def campaign_cell(record: Record) -> str | None:
    """Whether the record's person is in the book's campaign: the CampaignMember Id, "already a
    member" (Salesforce had one before), "not yet" (the next sync adds it), or None (no campaign
    for this record)."""
    if not record.campaign_id:
        return None
    if record.campaign_member_id == "DUPLICATE_VALUE":
        return "already a member"
    return record.campaign_member_id or "not yet"


def _one_line(value: Any) -> str:
    if value is None or value == "":
        return "-"
    return " ".join(str(value).split())  # a reason with newlines must not break the columns


def _aligned(rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell (the last one is not padded), one row per line."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = [
        "  ".join([*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)), row[-1]])
        for row in rows
    ]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def summary_line(selection: Selection) -> str:
    noun = "record" if selection.total == 1 else "records"
    if selection.total == 0:
        return f"no {selection.state} records"
    shown = len(selection.records)
    if shown < selection.total:
        return f"{selection.total} {selection.state} {noun}, showing the first {shown} (--limit)"
    return f"{selection.total} {selection.state} {noun}"


def render_plain(selection: Selection) -> str:
    """Aligned columns for logs, pipes and grep: one record per line, no colour, no wrapping."""
    if not selection.records:
        return summary_line(selection) + "\n"
    cols = columns(selection)
    rows = [[label for _key, label in cols], *(cells(r, cols) for r in selection.records)]
    return _aligned(rows) + summary_line(selection) + "\n"


def render_table(selection: Selection) -> Any:
    """A rich table for a terminal. When every record is from one address book, account and
    book go to the title, leaving the width to emails and reasons."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    if not selection.records:
        return Text(summary_line(selection))
    title = f"{selection.state} records"
    books = {(r.account, r.book) for r in selection.records}
    skip: set[str] = set()
    if len(books) == 1:
        account, book = next(iter(books))
        title += f": {account} / {book}"
        skip = {"account", "book"}
    cols = columns(selection)
    keep = [i for i, (key, _label) in enumerate(cols) if key not in skip]
    table = Table(title=title, title_justify="left")
    for i in keep:
        key, label = cols[i]
        table.add_column(label, overflow="fold", justify="right" if key == "contact_id" else "left")
    for record in selection.records:
        row = cells(record, cols)
        table.add_row(*(row[i] for i in keep))
    return Group(table, Text(summary_line(selection)))


def render_json(selection: Selection) -> str:
    return json.dumps([r.as_dict() for r in selection.records], indent=2, ensure_ascii=False) + "\n"


# --- conflict / update_failed: one row per field of a linked pair ----------------------------


def _field_cells(row: FieldRecord) -> list[str]:
    return [_one_line(getattr(row, key)) for key, _label in FIELD_COLUMNS]


def render_field_plain(rows: list[FieldRecord], state: str, total: int) -> str:
    line = _field_summary(rows, state, total)
    if not rows:
        return line + "\n"
    table = [[label for _k, label in FIELD_COLUMNS], *(_field_cells(r) for r in rows)]
    return _aligned(table) + line + "\n"


def render_field_table(rows: list[FieldRecord], state: str, total: int) -> Any:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    if not rows:
        return Text(_field_summary(rows, state, total))
    table = Table(title=f"{state} fields", title_justify="left")
    for _key, label in FIELD_COLUMNS:
        table.add_column(label, overflow="fold")
    for r in rows:
        table.add_row(*_field_cells(r))
    return Group(table, Text(_field_summary(rows, state, total)))


def render_field_json(rows: list[FieldRecord]) -> str:
    return json.dumps([r.as_dict() for r in rows], indent=2, ensure_ascii=False) + "\n"


def _field_summary(rows: list[FieldRecord], state: str, total: int) -> str:
    what = "conflict" if state == "conflict" else "refused field update"
    if total == 0:
        return f"no {what}s"
    noun = what if total == 1 else f"{what}s"
    if len(rows) < total:
        return f"{total} {noun}, showing the first {len(rows)} (--limit)"
    return f"{total} {noun}"
