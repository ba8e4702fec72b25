"""Run report: per-book counts that always add up, and their renderings. Pure.

`seen` counts the members this run evaluated (new members, members whose data changed, pending
members retried, in-doubt writes resolved or still in doubt); each of them ends the run in
exactly one of the five outcome counts, so `seen == created + excluded + skipped + failed +
pending` is an invariant the code asserts, not a hope. Members read again only because of the overlap window, and already
settled, are counted apart (`unchanged`): they are not news.

Status and exit code (what CI reads): `done` 0, or 4 when records failed or were skipped;
`incomplete` 4: the run went through but records are still pending because writes failed
(`errors` groups their causes by class, see write_errors.py); `stopped` 3 (an API limit);
`interrupted` 0 (SIGTERM/SIGINT, by request); `error` 1 (the run could not go on).

Campaign members are counted apart from the outcomes (a member is created or excluded, and
then also joins the campaign): `campaign_members_added_new` are Leads this book created,
`campaign_members_added_existing` are people already in Salesforce (an existing Lead or Contact,
or the Lead another book of the account created for the same person), `campaign_members_added`
is their sum; `campaign_members_already_in` were members before (nothing written).

`waiting_in_doubt` is a count beside the outcomes, not one of them: members whose Lead create
is in doubt and may still be running at Salesforce (an org without the Lead upsert key), so
they are neither looked up nor re-sent before sync.in_doubt_grace has passed. Those this run
sent itself are also in `pending`; those an earlier run left are not `seen` by this one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from leadsync.wording import clause

# ledger state -> report key (the names the issue fixes)
OUTCOME_KEYS: dict[str, str] = {
    "created": "created",
    "excluded": "excluded_existing",
    "skipped": "skipped_missing_fields",
    "failed": "failed",
    "pending": "pending",
}
OUTCOMES: tuple[str, ...] = tuple(OUTCOME_KEYS.values())
CAMPAIGN_KEYS: tuple[str, ...] = (
    "campaign_members_added",
    "campaign_members_added_new",
    "campaign_members_added_existing",
    "campaign_members_already_in",
    "campaign_members_failed",
)


class ReportInvariantError(AssertionError):
    """The counts do not add up: a member was lost or counted twice. A bug, never user error."""


@dataclass(slots=True)
class BookTally:
    account: str
    book_id: int
    book: str
    campaign_id: str | None = None
    campaign: str | None = None  # the campaign's name
    seen: int = 0
    outcomes: Counter = field(default_factory=Counter)
    read: int = 0  # members read from Dotdigital in this run
    unchanged: int = 0  # read, but already settled and unchanged
    campaign_members_added_new: int = 0  # Leads this book created
    campaign_members_added_existing: int = 0  # people already in Salesforce
    campaign_members_already_in: int = 0  # DUPLICATE_VALUE: a member before this run's attempt
    campaign_members_failed: int = 0
    waiting_in_doubt: int = 0  # creates in doubt, waiting out sync.in_doubt_grace
    reasons: Counter = field(default_factory=Counter)  # reason_code -> n (failed/skipped/excluded)
    watermark: str | None = None
    sweep_ids_read: int | None = None  # member ids the membership sweep read (None: no sweep)
    swept: int = 0  # members the sweep found that the ledger had never seen (also in `read`)
    # contact id -> (email, last_error) of members left pending by a failed write in this run
    errors: dict[int, tuple[str, dict[str, Any]]] = field(default_factory=dict)

    def note_error(self, contact_id: int, email: str, error: dict[str, Any] | None) -> None:
        """Record (or, with None, forget) why a member of this book is pending after this run."""
        if error is None:
            self.errors.pop(contact_id, None)
        else:
            self.errors[contact_id] = (email, error)

    def move(self, before: str | None, after: str, reason_code: str | None = None) -> None:
        """Record an entry's new state. `before` is its state if this run already counted it."""
        if before is None:
            self.seen += 1
        else:
            self.outcomes[OUTCOME_KEYS[before]] -= 1
        self.outcomes[OUTCOME_KEYS[after]] += 1
        if reason_code and after in ("failed", "skipped", "excluded"):
            self.reasons[reason_code] += 1

    def member_added(self, kind: str) -> None:
        """A CampaignMember was created; `kind` "new" or "existing" (ledger.member_kind)."""
        if kind == "new":
            self.campaign_members_added_new += 1
        else:
            self.campaign_members_added_existing += 1

    @property
    def campaign_members_added(self) -> int:
        return self.campaign_members_added_new + self.campaign_members_added_existing

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
            "campaign": self.campaign,
            "seen": self.seen,
            **{k: self.outcomes[k] for k in OUTCOMES},
            "campaign_members_added": self.campaign_members_added,
            "campaign_members_added_new": self.campaign_members_added_new,
            "campaign_members_added_existing": self.campaign_members_added_existing,
            "campaign_members_already_in": self.campaign_members_already_in,
            "campaign_members_failed": self.campaign_members_failed,
            "read": self.read,
            "unchanged": self.unchanged,
            "waiting_in_doubt": self.waiting_in_doubt,
            "reasons": dict(sorted(self.reasons.items())),
            "watermark": self.watermark,
            "swept": self.swept,
            "sweep": (
                None
                if self.sweep_ids_read is None
                else {"ids_read": self.sweep_ids_read, "found": self.swept}
            ),
        }


def totals(books: list[dict[str, Any]]) -> dict[str, int]:
    keys = (
        "seen",
        *OUTCOMES,
        *CAMPAIGN_KEYS,
        "read",
        "unchanged",
        "waiting_in_doubt",
        "swept",
    )
    return {k: sum(int(b.get(k, 0)) for b in books) for k in keys}


def error_classes(tallies: Iterable[BookTally]) -> list[dict[str, Any]]:
    """The run's `errors`: members left pending by failed writes, grouped by error class.

    One item per (system, class), most frequent first: {"class", "system", "count", "sample"},
    the sample being the first such member (account, book, contact id, email, message).
    """
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for tally in sorted(tallies, key=lambda t: (t.account, t.book, t.book_id)):
        for contact_id, (email, error) in sorted(tally.errors.items()):
            key = (str(error.get("system") or ""), str(error.get("class") or "UNKNOWN"))
            group = groups.get(key)
            if group is None:
                groups[key] = {
                    "class": key[1],
                    "system": key[0],
                    "count": 1,
                    "sample": {
                        "account": tally.account,
                        "book": tally.book,
                        "contact_id": contact_id,
                        "email": email,
                        "message": error.get("message"),
                    },
                }
            else:
                group["count"] += 1
    return sorted(groups.values(), key=lambda g: (-g["count"], g["class"], g["system"]))


def final_status(status: str, errors: list[dict[str, Any]], waiting: int = 0) -> str:
    """A run that went through with records still pending because of errors is incomplete; so
    is one that leaves creates waiting in doubt (their Leads are not confirmed yet): CI stays red
    until a later run settles them, at most sync.in_doubt_grace later."""
    return "incomplete" if status == "done" and (errors or waiting) else status


def exit_code(report: dict[str, Any]) -> int:
    """0 done and clean; 4 done with failed/skipped records, or incomplete; 3 stopped on a
    limit; 1 error.

    An "interrupted" run (SIGTERM/SIGINT: the batch in flight finished and everything is
    recorded) is 0: stopping on request is what the caller asked for, and the next run
    continues where this one stopped.
    """
    status = report.get("status")
    if status == "error":
        return 1
    if status == "stopped":
        return 3
    if status == "interrupted":
        return 0
    if status == "incomplete":
        return 4
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
        ("campaign_members_added_new", "would join campaign: new" if dry else "campaign: new"),
        (
            "campaign_members_added_existing",
            "would join campaign: existing" if dry else "campaign: existing",
        ),
    )
    for _, label in headers:
        table.add_column(label, justify="right")
    for book in report["books"]:
        table.add_row(book["account"], book["book"], *(str(book.get(k, 0)) for k, _ in headers))
    parts: list[Any] = [table]
    for book in report["books"]:
        if book.get("reasons"):
            why = ", ".join(f"{code} x{n}" for code, n in book["reasons"].items())
            parts.append(Text(f"  {book['account']}/{book['book']}: {why}"))
        line = campaign_line(book, dry=dry)
        if line:
            parts.append(Text(f"  {book['account']}/{book['book']}: {line}"))
        if book.get("waiting_in_doubt"):
            parts.append(Text(_waiting_line(book), style="yellow"))
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
    parts.extend(_selection_lines(report))
    if report.get("status") == "stopped":
        parts.append(
            Text(
                f"stopped early: {clause(str(report.get('stop_reason')))}. Everything done so far "
                "is recorded; "
                "run `leadsync sync` again later to continue.",
                style="yellow",
            )
        )
    if report.get("status") == "interrupted":
        parts.append(Text(f"interrupted: {report.get('stop_reason')}", style="yellow"))
    parts.extend(Text(line, style="red") for line in error_lines(report))
    return Group(*parts)


def _selection_lines(report: dict[str, Any]) -> list[Any]:
    """Which accounts this runner took (with --shard/--account) and which it left to others."""
    from rich.text import Text

    lines: list[Any] = []
    if report.get("shard") is not None:
        names = ", ".join(report.get("accounts") or []) or "none"
        lines.append(Text(f"shard {report['shard']}: accounts synced: {names}"))
    for skipped in report.get("skipped_locked") or []:
        lines.append(
            Text(
                f"skipped {skipped['account']}: another runner holds its lock "
                f"({skipped['held_by']}); that run syncs it",
                style="yellow",
            )
        )
    return lines


def error_lines(report: dict[str, Any]) -> list[str]:
    """The text report's account of `errors`: a headline, then one line per error class."""
    errors = report.get("errors") or []
    if not errors:
        return []
    n = sum(e["count"] for e in errors)
    noun = "record is" if n == 1 else "records are"
    head = "incomplete: " if report.get("status") == "incomplete" else ""
    lines = [
        f"{head}{n} {noun} still pending because writes failed; the next run retries "
        "them (`leadsync records --state pending` shows each one's last error):"
    ]
    for e in errors:
        s = e["sample"]
        lines.append(
            f"  {e['class']} x{e['count']} ({e['system']}), e.g. {s['account']}/{s['book']} "
            f"{s['email']}: {s['message']}"
        )
    return lines


def campaign_line(book: dict[str, Any], *, dry: bool = False) -> str | None:
    """One sentence on who joined the book's campaign, e.g. "campaign 'Spring Webinar 2026':
    2 new Leads and 1 person already in Salesforce added". None when nothing happened."""
    new = int(book.get("campaign_members_added_new", 0))
    existing = int(book.get("campaign_members_added_existing", 0))
    already = int(book.get("campaign_members_already_in", 0))
    if not (new or existing or already):
        return None
    parts = []
    if new:
        parts.append(f"{new} new Lead{'s' if new != 1 else ''}")
    if existing:
        who = "person" if existing == 1 else "people"
        parts.append(f"{existing} {who} already in Salesforce")
    name = book.get("campaign") or book.get("campaign_id")
    text = f"campaign {name!r}: "
    if parts:
        text += " and ".join(parts) + (" would be added" if dry else " added")
    if already:
        verb = ("is", "are") if dry else ("was", "were")
        noun = f"{verb[0]} already a member" if already == 1 else f"{verb[1]} already members"
        text += ("; " if parts else "") + f"{already} {noun}"
    return text


def _waiting_line(book: dict[str, Any]) -> str:
    n = book["waiting_in_doubt"]
    return (
        f"  {book['account']}/{book['book']}: {n} waiting: "
        f"{'its' if n == 1 else 'their'} Lead create may still be running at Salesforce; "
        "a later sync looks for the Lead once sync.in_doubt_grace has passed since it was sent "
        "(add the Lead field Leadsync_Key__c to settle such writes at once)"
    )


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
