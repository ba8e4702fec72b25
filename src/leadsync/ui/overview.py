"""The overview and history pages' data, read from the store. No I/O beyond the store reads.

Per address book the overview shows the numbers of the LAST RUN that saw the book, exactly as
that run's report has them (the JSON report of `leadsync sync --json`), and the ledger's
all-time count per state; the top line is the applied serial, who applied it and when, and
whether leadsync.yaml differs from it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import yaml

from leadsync.applied import AppliedBook, AppliedIntegration
from leadsync.state.model import AppliedState, HistoryEntry
from leadsync.sync.records import book_names
from leadsync.ui.labels import OPTIONAL_COUNTS, STATES
from leadsync.ui.source import ConfigCheck, StateSource

RUNS_SCANNED = 200  # newest runs read to find each book's last run (as `status` does)


@dataclass(frozen=True, slots=True)
class BookRow:
    account: str
    book: str
    book_id: int
    campaign: str | None
    create_leads: bool
    applied: bool  # still in the applied config (False: only the ledger remembers it)
    ledger: dict[str, int]  # all-time count per ledger state
    last_run: (
        dict[str, Any] | None
    )  # {"run_id", "started_at", "status", "api_calls", "book": {...}}


@dataclass
class Overview:
    applied: AppliedState | None
    latest_apply: HistoryEntry | None
    check: ConfigCheck
    last_run: dict[str, Any] | None
    books: list[BookRow]
    ledger_totals: dict[str, int] = field(default_factory=dict)
    optional_counts: tuple[tuple[str, str], ...] = ()

    @property
    def attention(self) -> int:
        return self.ledger_totals.get("failed", 0) + self.ledger_totals.get("skipped", 0)


def read_overview(source: StateSource, store: Any) -> Overview:
    if store is None:
        return Overview(None, None, source.check_config(None), None, [])
    applied = store.read_applied()
    history = store.history(1)
    runs = store.runs(RUNS_SCANNED)
    counts = store.ledger_counts()
    books = book_rows(applied, counts, runs)
    totals = {s: sum(n for (_a, _b, st), n in counts.items() if st == s) for s in STATES}
    present = tuple(
        (key, label)
        for key, label in OPTIONAL_COUNTS
        if any(key in (b.last_run or {}).get("book", {}) for b in books)
    )
    return Overview(
        applied=applied,
        latest_apply=history[0] if history else None,
        check=source.check_config(applied),
        last_run=runs[0] if runs else None,
        books=books,
        ledger_totals=totals,
        optional_counts=present,
    )


def book_rows(
    applied: AppliedState | None,
    counts: dict[tuple[str, int, str], int],
    runs_newest_first: list[dict[str, Any]],
) -> list[BookRow]:
    """One row per applied book, then any book only the ledger still remembers. Pure."""
    last: dict[tuple[str, int], dict[str, Any]] = {}
    for run in runs_newest_first:
        for book in run.get("books") or []:
            key = (str(book.get("account")), int(book.get("book_id") or 0))
            last.setdefault(
                key,
                {
                    "run_id": run.get("run_id"),
                    "started_at": run.get("started_at"),
                    "status": run.get("status"),
                    "api_calls": run.get("api_calls") or {},
                    "book": book,
                },
            )
    names = book_names(applied)
    details = _applied_books(applied)
    keys = list(details) + sorted({(a, b) for a, b, _s in counts} - set(details))
    rows = []
    for account, book_id in keys:
        info = details.get((account, book_id))
        rows.append(
            BookRow(
                account=account,
                book=names.get((account, book_id), f"(address book {book_id})"),
                book_id=book_id,
                campaign=(info.campaign_name or info.campaign) if info else None,
                create_leads=bool(info and info.create_leads),
                applied=(account, book_id) in details,
                ledger={s: n for (a, b, s), n in counts.items() if (a, b) == (account, book_id)},
                last_run=last.get((account, book_id)),
            )
        )
    return rows


def _applied_books(applied: AppliedState | None) -> dict[tuple[str, int], AppliedBook]:
    if applied is None:
        return {}
    return {
        (account, book.id): book
        for account, book in AppliedIntegration.from_json(applied.resolved).books()
        if book.id is not None
    }


# --- history --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ApplyRow:
    entry: dict[str, Any]  # the history entry, masked as `leadsync history --json` shows it
    config_yaml: str | None  # the applied config (masked), for the apply that is current


def read_history(store: Any, limit: int = 500) -> list[ApplyRow]:
    """Every apply, newest first. The store keeps the applied config of the current apply
    only (older applies keep its sha256), so only that row carries the config."""
    if store is None:
        return []
    from leadsync.reconcile.diff import mask

    applied = store.read_applied()
    rows = []
    for entry in store.history(limit):
        current = (
            applied is not None
            and entry.serial == applied.serial
            and entry.lineage == applied.lineage
        )
        config = masked_config_yaml(applied.config) if current and applied else None
        rows.append(ApplyRow(mask(asdict(entry)), config))
    return rows


def masked_config_yaml(config: dict[str, Any]) -> str:
    """The applied config as YAML with every secret shown as `(sensitive)`, as `plan` shows
    it (reconcile.diff.mask), never its fingerprint."""
    from leadsync.reconcile.diff import mask

    return yaml.safe_dump(mask(config), sort_keys=False, allow_unicode=True, width=100)
