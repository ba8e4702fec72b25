"""Run report: per-book counts that always add up (views/sync.py renders them). Pure.

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
    ordered = sorted(tallies, key=lambda t: (t.account, t.book, t.book_id))
    groups = group_errors((t.account, t.book, t.errors) for t in ordered)
    return sorted(groups, key=lambda g: (-g["count"], g["class"], g["system"]))


def group_errors(
    sources: Iterable[tuple[str, str, dict[int, tuple[str, dict[str, Any]]]]],
) -> list[dict[str, Any]]:
    """Failed writes grouped by (system, class), in the order first seen: the one grouping of
    the run's `errors` (lead creation here, field updates in update_report.py).

    `sources` are (account, book, contact id -> (email, last error)); each group is {"class",
    "system", "count", "sample"}, the sample being its first member, contact ids in order.
    """
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for account, book, errors in sources:
        for contact_id, (email, error) in sorted(errors.items()):
            key = (str(error.get("system") or ""), str(error.get("class") or "UNKNOWN"))
            group = groups.get(key)
            if group is None:
                groups[key] = {
                    "class": key[1],
                    "system": key[0],
                    "count": 1,
                    "sample": {
                        "account": account,
                        "book": book,
                        "contact_id": contact_id,
                        "email": email,
                        "message": error.get("message"),
                    },
                }
            else:
                group["count"] += 1
    return list(groups.values())


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
    push = report.get("push_totals") or {}
    problems += int(push.get("failed", 0)) + int(push.get("skipped", 0))
    problems += t.get("update_failed", 0)  # a value one side refused (records --state ...)
    return 4 if problems else 0
