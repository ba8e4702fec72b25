"""Run report: per-book counts that always add up, and their renderings. Pure.

`seen` counts the members this run evaluated (new members, members whose data changed, pending
members retried, in-doubt writes resolved); each of them ends the run in exactly one of the five
outcome counts, so `seen == created + excluded + skipped + failed + pending` is an invariant the
code asserts, not a hope. Members read again only because of the overlap window, and already
settled, are counted apart (`unchanged`): they are not news.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

# ledger state -> report key (the names the issue fixes)
OUTCOME_KEYS: dict[str, str] = {
    "created": "created",
    "excluded": "excluded_existing",
    "skipped": "skipped_missing_fields",
    "failed": "failed",
    "pending": "pending",
}
OUTCOMES: tuple[str, ...] = tuple(OUTCOME_KEYS.values())


class ReportInvariantError(AssertionError):
    """The counts do not add up: a member was lost or counted twice. A bug, never user error."""


@dataclass(slots=True)
class BookTally:
    account: str
    book_id: int
    book: str
    campaign_id: str | None = None
    seen: int = 0
    outcomes: Counter = field(default_factory=Counter)
    read: int = 0  # members read from Dotdigital in this run
    unchanged: int = 0  # read, but already settled and unchanged
    campaign_members_added: int = 0
    campaign_members_existing: int = 0  # DUPLICATE_VALUE: a member from an earlier attempt
    campaign_members_failed: int = 0
    reasons: Counter = field(default_factory=Counter)  # reason_code -> n (failed/skipped/excluded)
    watermark: str | None = None
    sweep_ids_read: int | None = None  # member ids the membership sweep read (None: no sweep)
    swept: int = 0  # members the sweep found that the ledger had never seen (also in `read`)

    def move(self, before: str | None, after: str, reason_code: str | None = None) -> None:
        """Record an entry's new state. `before` is its state if this run already counted it."""
        if before is None:
            self.seen += 1
        else:
            self.outcomes[OUTCOME_KEYS[before]] -= 1
        self.outcomes[OUTCOME_KEYS[after]] += 1
        if reason_code and after in ("failed", "skipped", "excluded"):
            self.reasons[reason_code] += 1

    def check(self) -> None:
        total = sum(self.outcomes[k] for k in OUTCOMES)
        if total != self.seen or any(self.outcomes[k] < 0 for k in OUTCOMES):
            raise ReportInvariantError(
                f"report for {self.account}/{self.book}: seen={self.seen} but outcomes "
                f"{dict(self.outcomes)} add up to {total}"
            )

    def as_dict(self) -> dict[str, Any]:
        self.check()
        return {
            "account": self.account,
            "book_id": self.book_id,
            "book": self.book,
            "campaign_id": self.campaign_id,
            "seen": self.seen,
            **{k: self.outcomes[k] for k in OUTCOMES},
            "campaign_members_added": self.campaign_members_added,
            "campaign_members_existing": self.campaign_members_existing,
            "campaign_members_failed": self.campaign_members_failed,
            "read": self.read,
            "unchanged": self.unchanged,
            "reasons": dict(sorted(self.reasons.items())),
            "watermark": self.watermark,
            "swept": self.swept,
            "sweep": (
                None
                if self.sweep_ids_read is None
                else {"ids_read": self.sweep_ids_read, "found": self.swept}
            ),
        }


def check_book(book: dict[str, Any]) -> None:
    """The invariant on a rendered book row (used on reports read back from the store too)."""
    total = sum(book[k] for k in OUTCOMES)
    if book["seen"] != total:
        raise ReportInvariantError(
            f"report for {book.get('account')}/{book.get('book')}: seen={book['seen']} != {total}"
        )


def totals(books: list[dict[str, Any]]) -> dict[str, int]:
    keys = ("seen", *OUTCOMES, "campaign_members_added", "read", "unchanged", "swept")
    return {k: sum(int(b.get(k, 0)) for b in books) for k in keys}


def exit_code(report: dict[str, Any]) -> int:
    """0 done and clean; 4 done with failed/skipped records; 3 stopped on a limit.

    An "interrupted" run (SIGTERM/SIGINT: the batch in flight finished and everything is
    recorded) is 0: stopping on request is what the caller asked for, and the next run
    continues where this one stopped.
    """
    if report.get("status") == "stopped":
        return 3
    if report.get("status") == "interrupted":
        return 0
    t = report["totals"]
    problems = t["failed"] + t["skipped_missing_fields"]
    problems += sum(b.get("campaign_members_failed", 0) for b in report["books"])
    return 4 if problems else 0


def render_text(report: dict[str, Any], *, dry_run_samples: bool = True) -> Any:
    """A rich renderable: one table row per address book, then the run line."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    dry = report.get("dry_run", False)
    title = "leadsync sync --dry-run (nothing written)" if dry else "leadsync sync"
    table = Table(title=title, title_justify="left")
    table.add_column("account")
    table.add_column("address book")
    headers = (
        ("seen", "seen"),
        ("created", "would create" if dry else "created"),
        ("excluded_existing", "would exclude" if dry else "excluded"),
        ("skipped_missing_fields", "would skip" if dry else "skipped"),
        ("failed", "would fail" if dry else "failed"),
        ("pending", "pending"),
        ("campaign_members_added", "would add to campaign" if dry else "campaign members"),
    )
    for _, label in headers:
        table.add_column(label, justify="right")
    for book in report["books"]:
        table.add_row(book["account"], book["book"], *(str(book[k]) for k, _ in headers))
    parts: list[Any] = [table]
    for book in report["books"]:
        if book.get("reasons"):
            why = ", ".join(f"{code} x{n}" for code, n in book["reasons"].items())
            parts.append(Text(f"  {book['account']}/{book['book']}: {why}"))
        if book.get("sweep"):
            found = book["sweep"]["found"]
            parts.append(
                Text(
                    f"  {book['account']}/{book['book']}: membership sweep read "
                    f"{book['sweep']['ids_read']} member ids, found {found} the sync had not "
                    f"seen{' (now in the counts above)' if found else ''}"
                )
            )
        if dry and dry_run_samples:
            parts.extend(_render_samples(book))
    calls = report.get("api_calls", {})
    line = (
        f"run {report['run_id']}  applied serial {report['applied_serial']}  "
        f"{report['started_at']} -> {report['ended_at']}  "
        f"API calls: Salesforce {calls.get('salesforce', 0)}, Dotdigital {calls.get('dotdigital', 0)}"
    )
    parts.append(Text(line))
    if report.get("status") == "stopped":
        parts.append(
            Text(
                f"stopped early: {report.get('stop_reason')}. Everything done so far is recorded; "
                "run `leadsync sync` again later to continue.",
                style="yellow",
            )
        )
    if report.get("status") == "interrupted":
        parts.append(Text(f"interrupted: {report.get('stop_reason')}", style="yellow"))
    return Group(*parts)


def _render_samples(book: dict[str, Any]) -> list[Any]:
    from rich.text import Text

    out: list[Any] = []
    for kind, label in (
        ("created", "would create"),
        ("excluded", "would exclude"),
        ("skipped", "would skip"),
        ("failed", "would fail"),
    ):
        rows = book.get("samples", {}).get(kind, [])
        if not rows:
            continue
        out.append(Text(f"  {book['account']}/{book['book']}: {label} (up to 5):"))
        for row in rows:
            out.append(Text(f"    {row['email']}  {row['reason']}"))
    return out
