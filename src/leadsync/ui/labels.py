"""The words of the audit pages: ledger states and report counts in a sales-ops reader's terms.

One home for them, so the overview, the runs chart, the records tabs and the HTML report call a
state the same name. The colours are the chart's and the badges' (one palette, readable by
people with the common colour-vision deficiencies: blue / orange / grey / red / purple).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StateLabel:
    state: str  # ledger state
    report_key: str  # the run report's count for it
    label: str  # what the page calls it
    hint: str  # one sentence on what it means
    colour: str
    short: str = ""  # a table header's word for it (the label when empty)

    @property
    def header(self) -> str:
        return self.short or self.label


OUTCOMES: tuple[StateLabel, ...] = (
    StateLabel("created", "created", "Created", "a new Lead was created in Salesforce", "#2563eb"),
    StateLabel(
        "excluded",
        "excluded_existing",
        "Already in Salesforce",
        "a Lead or Contact with this email exists; no second record was made",
        "#94a3b8",
        "In Salesforce",
    ),
    StateLabel(
        "skipped",
        "skipped_missing_fields",
        "Skipped",
        "data Salesforce requires is missing in Dotdigital; created once it is filled in",
        "#f59e0b",
    ),
    StateLabel(
        "failed", "failed", "Failed", "Salesforce refused the record (see the reason)", "#dc2626"
    ),
    StateLabel(
        "pending",
        "pending",
        "Pending",
        "not written yet (a write failed or was in flight); the next sync retries it",
        "#7c3aed",
    ),
)
BASELINE = StateLabel(
    "baseline",
    "baseline",
    "Baseline",
    "already in the book when lead creation was switched on; not turned into a Lead",
    "#cbd5e1",
)
BY_STATE: dict[str, StateLabel] = {o.state: o for o in (*OUTCOMES, BASELINE)}
STATES: tuple[str, ...] = tuple(BY_STATE)

# Campaign and later counts of a book in a run report, shown when present.
CAMPAIGN_COUNTS: tuple[tuple[str, str], ...] = (
    ("campaign_members_added_new", "Joined campaign: new Leads"),
    ("campaign_members_added_existing", "Joined campaign: already in Salesforce"),
    ("campaign_members_failed", "Campaign member failed"),
)
# Counts that later kinds of sync add to the report (push, updates): a column once a report
# has them, so the page needs no change when they arrive.
OPTIONAL_COUNTS: tuple[tuple[str, str], ...] = (
    ("pushed", "Pushed to Dotdigital"),
    ("updated", "Updated"),
)

RUN_STATUS: dict[str, tuple[str, str]] = {
    # status -> (what the page says, badge kind)
    "done": ("Done", "ok"),
    "incomplete": ("Incomplete: records still pending", "warn"),
    "stopped": ("Stopped on an API limit", "warn"),
    "interrupted": ("Interrupted (stopped on request)", "warn"),
    "error": ("Error", "bad"),
}


def run_status(report: dict) -> tuple[str, str]:
    """(label, badge kind) of a run; a done run with failed or skipped records is "attention"."""
    status = str(report.get("status") or "")
    label, kind = RUN_STATUS.get(status, (status or "unknown", "warn"))
    totals = report.get("totals") or {}
    if status == "done" and (totals.get("failed") or totals.get("skipped_missing_fields")):
        return "Needs attention", "attention"
    return label, kind
