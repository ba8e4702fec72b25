"""The sync's text report, byte for byte, as a terminal shows it (colours included).

The golden file was rendered by leadsync before the views layer existed (main at e68fa34,
sync/report.py's render_text); views/sync.py must draw the same report: the push lines, the
table (dry-run headers too), reasons, the campaign sentence, waiting in doubt, the sweep,
dry-run samples, field updates, the run line, shard and locked accounts, stopped / interrupted,
and the pending errors of both directions.
"""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from leadsync.views.sync import render_text

GOLDEN = json.loads((Path(__file__).parent / "report_text_golden.json").read_text("utf-8"))

BOOK = {
    "account": "uk", "book_id": 11, "book": "Webinar", "campaign_id": "701A",
    "campaign": "Spring Webinar 2026", "seen": 9, "created": 3, "excluded_existing": 2,
    "skipped_missing_fields": 1, "failed": 1, "pending": 2, "campaign_members_added": 4,
    "campaign_members_added_new": 3, "campaign_members_added_existing": 1,
    "campaign_members_already_in": 2, "campaign_members_failed": 0, "read": 12, "unchanged": 3,
    "waiting_in_doubt": 1, "reasons": {"FIELD_MISSING": 1, "INVALID_EMAIL": 1},
    "watermark": "2026-11-29T10:00:00Z", "swept": 2, "sweep": {"ids_read": 40, "found": 2},
    "samples": {
        "created": [{"email": "a@x.com", "reason": "new Lead"}],
        "skipped": [{"email": "b@x.com", "reason": "LastName empty"}],
    },
}  # fmt: skip
BOOK2 = {
    **BOOK, "book_id": 12, "book": "Trade show", "campaign": None, "campaign_id": None,
    "reasons": {}, "waiting_in_doubt": 0, "sweep": {"ids_read": 5, "found": 0},
    "campaign_members_added_new": 0, "campaign_members_added_existing": 1,
    "campaign_members_already_in": 1, "samples": {},
}  # fmt: skip
PUSH = {
    "account": "uk", "book": "VIP", "campaign": "VIP list", "added": 2, "updated": 1,
    "removed": 0, "left": 1, "skipped": 1, "failed": 0, "pending": 1, "in_doubt": 0,
    "unchanged": 7, "read": 12, "full_read": True, "bulk_read": True, "reasons": {"NO_EMAIL": 1},
    "samples": {
        "added": [{"email": "c@x.com", "reason": "joined"}],
        "skipped": [{"email": "d@x.com", "reason": "no email"}],
    },
}  # fmt: skip
UPDATES = {
    "account": "uk", "updated_in_salesforce": 2, "updated_in_dotdigital": 1, "conflicts": 1,
    "update_failed": 1, "update_skipped": 0, "update_pending": 2, "linked": 3, "unlinked": 1,
    "converted": 1,
    "samples": [
        {"email": "e@x.com", "side": "salesforce", "field": "Company", "before": "A", "after": "B"}
    ],
}  # fmt: skip
ERR = {
    "class": "HTTP 500", "system": "salesforce", "count": 2,
    "sample": {"account": "uk", "book": "Webinar", "contact_id": 5, "email": "f@x.com", "message": "boom"},
}  # fmt: skip
BASE: dict[str, Any] = {
    "run_id": "r-1", "applied_serial": 3, "started_at": "2026-11-29T10:00:00Z",
    "ended_at": "2026-11-29T10:01:00Z", "api_calls": {"salesforce": 12, "dotdigital": 7},
    "books": [BOOK, BOOK2], "push": [PUSH], "updates": [UPDATES], "shard": "1/3",
    "accounts": ["uk"], "skipped_locked": [{"account": "de", "held_by": "ci@host pid 7"}],
    "errors": [ERR],
    "push_errors": [{**ERR, "class": "IMPORT_FAILED", "system": "dotdigital", "count": 1}],
    "status": "incomplete",
}  # fmt: skip


def _report(name: str) -> dict[str, Any]:
    report = copy.deepcopy(BASE)
    kind, _, status = name.rpartition("-")[0].partition("-")
    report["dry_run"] = kind == "dry"
    if kind in ("run", "dry"):
        report["status"] = status
        reason = {"stopped": "salesforce daily API limit reached", "interrupted": "SIGTERM"}
        if status in reason:
            report["stop_reason"] = reason[status]
        return report
    report["dry_run"] = False
    report["books"] = []
    report["status"] = "done"
    if kind == "empty":
        for key in ("push", "updates", "shard", "skipped_locked", "errors", "push_errors"):
            del report[key]
    return report


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_the_text_report_is_drawn_as_before(name: str) -> None:
    console = Console(
        width=160, record=True, file=io.StringIO(), color_system="truecolor", force_terminal=True
    )
    console.print(render_text(_report(name), dry_run_samples=name.endswith("True")))
    assert console.export_text(styles=True) == GOLDEN[name]
