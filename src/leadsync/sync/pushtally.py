"""The push's part of a run report: per pushing book, what the push did. Pure.

Keys (JSON report `push[]`, README "Sync report"): `read` Campaign members read from Salesforce;
`pushed` people written into the book this run, of which `added` (new to the book) and `updated`
(their values changed); `removed` people taken out of the book (clear_address_books: true: those
who left the Campaign or its status filter, and members who were never in the Campaign); `left`
people who left the Campaign but stay in the book (clear_address_books: false: the push only
adds); `skipped` members without an email; `failed` members Dotdigital refused (with the reason);
`pending` members a failed write leaves for the next run; `in_doubt` members whose import was
still running when the run ended (the next run reads its outcome); `unchanged` members read again
with nothing new. A dry run fills the same keys with what the real run would do, plus `samples`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

COUNTS: tuple[str, ...] = (
    "read",
    "pushed",
    "added",
    "updated",
    "removed",
    "left",
    "skipped",
    "failed",
    "pending",
    "in_doubt",
    "unchanged",
)
SAMPLE_KINDS: tuple[str, ...] = ("added", "updated", "removed", "left", "skipped", "failed")
SAMPLES = 5


@dataclass(slots=True)
class PushTally:
    account: str
    book_id: int
    book: str
    campaign_id: str
    campaign: str
    clear: bool = False
    full_read: bool = False
    bulk_read: bool = False  # read through a Bulk API 2.0 query job (sync.bulk_threshold)
    counts: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)  # reason code -> n (skipped/failed/removed)
    samples: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    errors: dict[str, dict[str, Any]] = field(default_factory=dict)  # class -> {count, sample}
    watermark: str | None = None

    def count(self, kind: str, n: int = 1) -> None:
        self.counts[kind] += n
        if kind in ("added", "updated"):
            self.counts["pushed"] += n

    def sample(self, kind: str, email: str, reason: str) -> None:
        rows = self.samples.setdefault(kind, [])
        if len(rows) < SAMPLES:
            rows.append({"email": email, "reason": reason})

    def error(self, error_class: str, message: str, email: str, n: int = 1) -> None:
        """A write that failed for now: its members stay pending (the run is incomplete)."""
        group = self.errors.setdefault(
            error_class, {"class": error_class, "system": "Dotdigital", "count": 0}
        )
        group["count"] += n
        group.setdefault(
            "sample",
            {"account": self.account, "book": self.book, "email": email, "message": message},
        )

    def as_dict(self, *, with_samples: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "account": self.account,
            "book_id": self.book_id,
            "book": self.book,
            "campaign_id": self.campaign_id,
            "campaign": self.campaign,
            "clear_address_books": self.clear,
            "full_read": self.full_read,
            "bulk_read": self.bulk_read,
            **{k: int(self.counts[k]) for k in COUNTS},
            "reasons": dict(sorted(self.reasons.items())),
            "watermark": self.watermark,
        }
        if with_samples:
            out["samples"] = {k: self.samples.get(k, []) for k in SAMPLE_KINDS}
        return out


def add_push_report(report: dict[str, Any], tallies: list[PushTally], *, dry_run: bool) -> None:
    """The run report's push keys: `push` (per book), `push_totals`, `push_errors`."""
    ordered = sorted(tallies, key=lambda t: (t.account, t.book, t.book_id))
    books = [t.as_dict(with_samples=dry_run) for t in ordered]
    report["push"] = books
    report["push_totals"] = push_totals(books)
    report["push_errors"] = push_errors(ordered)


def push_totals(books: list[dict[str, Any]]) -> dict[str, int]:
    return {k: sum(int(b.get(k, 0)) for b in books) for k in COUNTS}


def push_errors(tallies: list[PushTally]) -> list[dict[str, Any]]:
    """Error classes that left push members pending, most frequent first (as report.errors)."""
    merged: dict[str, dict[str, Any]] = {}
    for tally in tallies:
        for cls, group in tally.errors.items():
            if cls in merged:
                merged[cls]["count"] += group["count"]
            else:
                merged[cls] = dict(group)
    return sorted(merged.values(), key=lambda g: (-g["count"], g["class"]))
