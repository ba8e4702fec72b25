"""The update step's counts per account, and their place in the run report. Pure.

Counts are of people (links), not fields: `updated_in_salesforce` is the number of Leads and
Contacts a field update was written to, `updated_in_dotdigital` the number of contacts, and a
person with a conflict on two fields is one conflict. `update_failed`: people with a value one
side refused (retried when their data changes, listed by `records --state update_failed`);
`update_pending`: people whose write failed for now (retried every run; the run is incomplete,
like a Lead left pending). `linked` new links, `unlinked` records deleted or merged away in
Salesforce, `converted` links moved from a converted Lead to its Contact.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from leadsync.sync.report import group_errors

UPDATE_KEYS: tuple[str, ...] = (
    "updated_in_salesforce",
    "updated_in_dotdigital",
    "conflicts",
    "update_failed",
    "update_skipped",
    "update_pending",
    "linked",
    "unlinked",
    "converted",
)
SAMPLES = 5


@dataclass(slots=True)
class UpdateTally:
    account: str
    counts: Counter = field(default_factory=Counter)
    read_dotdigital: int = 0  # linked contacts read because they changed
    read_salesforce: int = 0  # linked records read because they changed
    samples: list[dict[str, Any]] = field(default_factory=list)  # dry run: before/after
    # contact id -> (email, last error) of people whose write failed for now in this run
    errors: dict[int, tuple[str, dict[str, Any]]] = field(default_factory=dict)

    def add(self, key: str, n: int = 1) -> None:
        if key not in UPDATE_KEYS:
            raise KeyError(key)
        self.counts[key] += n

    def sample(self, email: str, side: str, fld: str, before: Any, after: Any) -> None:
        if len(self.samples) < SAMPLES:
            self.samples.append(
                {"email": email, "side": side, "field": fld, "before": before, "after": after}
            )

    def as_dict(self, *, dry_run: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"account": self.account}
        out.update({k: self.counts[k] for k in UPDATE_KEYS})
        out["read_dotdigital"] = self.read_dotdigital
        out["read_salesforce"] = self.read_salesforce
        if dry_run:
            out["samples"] = list(self.samples)
        return out


def update_totals(rows: Iterable[dict[str, Any]]) -> dict[str, int]:
    rows = list(rows)
    return {k: sum(int(r.get(k, 0)) for r in rows) for k in UPDATE_KEYS}


def update_errors(tallies: Iterable[UpdateTally]) -> list[dict[str, Any]]:
    """Error groups (report.error_classes' shape) of updates that failed for now."""
    ordered = sorted(tallies, key=lambda t: t.account)
    return group_errors((t.account, "(field updates)", t.errors) for t in ordered)
