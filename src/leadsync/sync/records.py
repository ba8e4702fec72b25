"""`leadsync records --state failed`: the ledger's members in one state, with their reasons.

`status` gives the counts; this answers the next question ("which ones, and why?") without
opening the SQLite file by hand. It only reads the state: no network, no lock, nothing written
(a missing state file is reported, not created). Email addresses are shown: they are personal
data, not secrets, and the list is what the user asked for. Reasons come from the ledger, which
never holds secrets. A record a failed write left pending shows that write's error (`last error`:
class and message, e.g. `HTTP 500: Salesforce: create Lead: ...`), the answer to "why is this
still pending?".

The query (over StateStore.ledger_iter) is plain functions; the command at the bottom is the
only part that loads the config and opens the store; views/records.py renders what it found.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from leadsync.applied import AppliedIntegration
from leadsync.errors import UsageError
from leadsync.state.model import AppliedState, LedgerEntry, PushEntry, StateStore
from leadsync.sync.write_errors import last_error_of
from leadsync.views import Outcome

STATES: tuple[str, ...] = (
    "failed",
    "skipped",
    "pending",
    "excluded",
    "created",
    "baseline",
    "pushed",
    "left",
    "removed",
)
# States of the push table (Salesforce -> Dotdigital, origin salesforce): `pushed` people the
# push put in a book, `left` people who left the Campaign but stay (clear_address_books: false),
# `removed` people clearing took out; its skipped/failed/pending list beside the ledger's.
PUSH_STATES: frozenset[str] = frozenset(
    {"pending", "pushed", "skipped", "failed", "left", "removed"}
)
LEDGER_STATES: frozenset[str] = frozenset(
    {"failed", "skipped", "pending", "excluded", "created", "baseline"}
)
# Field-update outcomes of linked pairs (sync/update_records.py), listed field by field.
UPDATE_STATES: tuple[str, ...] = ("conflict", "update_failed")
IN_DOUBT = "a write was in flight when a run stopped; the next sync settles it from Salesforce"


class RecordsError(UsageError):
    """--account/--book name something the state does not know."""


@dataclass(frozen=True, slots=True)
class Record:
    """One ledger row as `records` shows it (flat, JSON-able)."""

    account: str
    book: str
    book_id: int
    contact_id: int | None  # the Dotdigital contact id (None: a pushed person not imported yet)
    email: str
    state: str
    reason_code: str | None
    reason: str | None
    fields: tuple[str, ...]
    lead_id: str | None
    matched_id: str | None
    campaign_id: str | None
    campaign_member_id: str | None
    in_doubt: bool
    tries: int
    first_run: str | None
    last_run: str | None
    updated_at: str | None
    # the last failed write: {"class", "system", "message", "run", "at"} (why it is pending)
    last_error: dict[str, Any] | None = None
    # where the person came from: "dotdigital" (lead creation's ledger) or "salesforce" (the
    # push, or a member lead creation excluded because the push wrote them)
    origin: str = "dotdigital"

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["fields"] = list(self.fields)
        return out


@dataclass(frozen=True, slots=True)
class BookRef:
    account: str
    book_id: int
    name: str


@dataclass(frozen=True, slots=True)
class Selection:
    state: str
    records: list[Record]
    total: int  # records in this state within the filters (may exceed len(records) with a limit)
    limit: int | None


def record_of(entry: LedgerEntry, book: str) -> Record:
    return Record(
        account=entry.account,
        book=book,
        book_id=int(entry.book_id),
        contact_id=int(entry.contact_id),
        email=entry.email,
        state=entry.state,
        reason_code=entry.reason_code,
        reason=entry.reason or (IN_DOUBT if entry.attempt else None),
        fields=tuple(entry.fields),
        lead_id=entry.lead_id,
        matched_id=entry.matched_id,
        campaign_id=entry.campaign_id,
        campaign_member_id=entry.campaign_member_id,
        in_doubt=entry.attempt is not None,
        tries=entry.tries,
        first_run=entry.first_run,
        last_run=entry.last_run,
        updated_at=entry.updated_at,
        last_error=last_error_of(entry.extra),
        origin=entry.origin,
    )


def record_of_push(entry: PushEntry, book: str) -> Record:
    """A push-table row as `records` shows it: the Campaign member (its Id in the campaign
    column), the Salesforce person in the matched-id column, origin salesforce. A member
    clear_address_books removed from the Dotdigital side (`dd:<id>`) has origin dotdigital."""
    outsider = entry.member_id.startswith("dd:")
    return Record(
        account=entry.account,
        book=book,
        book_id=int(entry.book_id),
        contact_id=entry.contact_id,
        email=entry.email,
        state=entry.state,
        reason_code=entry.reason_code,
        reason=entry.reason or (PUSH_IN_DOUBT if entry.attempt else None),
        fields=(),
        lead_id=None,
        matched_id=entry.person_id,
        campaign_id=None if outsider else entry.campaign_id,
        campaign_member_id=None if outsider else entry.member_id.split("|", 1)[0],
        in_doubt=entry.attempt is not None,
        tries=entry.tries,
        first_run=entry.first_run,
        last_run=entry.last_run,
        updated_at=entry.updated_at,
        origin="dotdigital" if outsider else "salesforce",
    )


PUSH_IN_DOUBT = "an import was in flight when a run stopped; the next sync reads its outcome"


def book_names(applied: AppliedState | None) -> dict[tuple[str, int], str]:
    """(account, book id) -> address-book name, from the applied state's resolved ids."""
    if applied is None:
        return {}
    return {
        (account, book.id): book.name
        for account, book in AppliedIntegration.from_json(applied.resolved).books()
        if book.id is not None
    }


def select_books(
    counts: Mapping[tuple[str, int, str], int],
    names: Mapping[tuple[str, int], str],
    *,
    state: str,
    account: str | None = None,
    book: str | None = None,
) -> list[tuple[BookRef, int]]:
    """The books to list, in display order, each with its number of `state` records.

    Raises RecordsError for an account or book the state has never heard of (with a
    did-you-mean), so a typo is not mistaken for "nothing failed".
    """
    known = set(names) | {(a, b) for a, b, _s in counts}
    refs = [BookRef(a, b, names.get((a, b), f"(address book {b})")) for a, b in known]
    if account is not None:
        accounts = sorted({r.account for r in refs})
        if account not in accounts:
            raise RecordsError(_unknown("account", account, accounts))
        refs = [r for r in refs if r.account == account]
    if book is not None:
        wanted = [r for r in refs if book in (r.name, str(r.book_id))]
        if not wanted:
            wanted = [r for r in refs if r.name.casefold() == book.casefold()]
        if not wanted:
            scope = f" of account {account!r}" if account else ""
            raise RecordsError(
                _unknown(f"address book{scope}", book, sorted({r.name for r in refs}))
            )
        refs = wanted
    refs.sort(key=lambda r: (r.account, r.name.casefold(), r.book_id))
    return [(r, counts.get((r.account, r.book_id, state), 0)) for r in refs]


def _unknown(what: str, name: str, known: Sequence[str]) -> str:
    message = f"no {what} named {name!r} in the state"
    close = difflib.get_close_matches(name, known, n=1)
    if close:
        message += f"; did you mean {close[0]!r}?"
    elif known:
        message += f" (known: {', '.join(known)})"
    else:
        message += " (nothing has been applied or synced yet)"
    return message


def query_records(
    store: StateStore,
    *,
    state: str,
    account: str | None = None,
    book: str | None = None,
    limit: int | None = None,
) -> Selection:
    """Ledger records in `state`, book by book, at most `limit`. Reads only."""
    if state not in STATES:
        raise RecordsError(f"unknown record state {state!r} (one of: {', '.join(STATES)})")
    names = book_names(store.read_applied())
    counts = dict(store.ledger_counts(account)) if state in LEDGER_STATES else {}
    if state in PUSH_STATES:
        for key, n in store.push_counts(account).items():
            counts[key] = counts.get(key, 0) + n
    books = select_books(counts, names, state=state, account=account, book=book)
    total = sum(n for _ref, n in books)
    records = list(_take(_iter(store, books, state), limit))
    return Selection(state=state, records=records, total=total, limit=limit)


def _iter(store: StateStore, books: list[tuple[BookRef, int]], state: str) -> Iterator[Record]:
    for ref, n in books:
        if not n:
            continue
        if state in LEDGER_STATES:
            for entry in store.ledger_iter(ref.account, ref.book_id, [state]):  # type: ignore[list-item]
                yield record_of(entry, ref.name)
        if state in PUSH_STATES:
            for pushed in store.push_iter(ref.account, ref.book_id, [state]):  # type: ignore[list-item]
                yield record_of_push(pushed, ref.name)


def _take(records: Iterator[Record], limit: int | None) -> Iterator[Record]:
    for i, record in enumerate(records):
        if limit is not None and i >= limit:
            return
        yield record


# --- the command --------------------------------------------------------------------------


def records_command(
    config_path: str,
    *,
    state: str,
    account: str | None = None,
    book: str | None = None,
    as_json: bool = False,
    limit: int | None = None,
) -> Outcome:
    """Load the config (for the state's location), read the ledger; views/records.py renders
    the selection. Exit 0 (errors are raised)."""
    from leadsync.config import config_dir, load_or_raise
    from leadsync.state import open_store, sqlite_path

    config = load_or_raise(config_path)
    base = config_dir(config.source)
    if state in UPDATE_STATES:
        return _update_records(config, base, state, account, as_json, limit)
    if config.state.backend == "sqlite" and not sqlite_path(config.state.path, base).exists():
        # Opening would create the file: say there is nothing instead (reads only).
        if account is not None or book is not None:
            raise RecordsError(
                _unknown("account" if account else "address book", account or book or "", [])
            )
        selection = Selection(state=state, records=[], total=0, limit=limit)
    else:
        store = open_store(config.state, base)
        try:
            selection = query_records(store, state=state, account=account, book=book, limit=limit)
        finally:
            store.close()
    from leadsync.views.records import records_outcome

    return records_outcome(selection, as_json=as_json)


def _update_records(
    config: Any, base: Any, state: str, account: str | None, as_json: bool, limit: int | None
) -> Outcome:
    """`records --state conflict|update_failed`: the links' fields (sync/update_records.py)."""
    from leadsync.state import open_store, sqlite_path
    from leadsync.sync import update_records as ur

    rows: list[ur.FieldRecord] = []
    total = 0
    if config.state.backend != "sqlite" or sqlite_path(config.state.path, base).exists():
        store = open_store(config.state, base)
        try:
            names = book_names(store.read_applied())
            known = sorted({a for a, _b in names} | set(config.accounts))
            if account is not None and account not in known:
                raise RecordsError(_unknown("account", account, known))
            accounts = [account] if account is not None else known
            for row in ur.field_records(store, accounts, state, names):
                total += 1
                if limit is None or len(rows) < limit:
                    rows.append(row)
        finally:
            store.close()
    from leadsync.views.records import field_records_outcome

    return field_records_outcome(rows, state, total, as_json=as_json)
