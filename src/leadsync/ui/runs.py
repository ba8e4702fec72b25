"""The runs page (chart and table) and one run's page, from the stored run reports.

A run's numbers are its report's, untouched: the table and the chart show `totals`, the run
page shows each book's counts, reasons, campaign line and the run's errors and warnings, as
`leadsync sync --json` printed them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from leadsync.ui.chart import Chart, outcome_chart
from leadsync.ui.labels import OPTIONAL_COUNTS
from leadsync.views.sync import campaign_line, error_lines

RUNS_LISTED = 200


@dataclass
class RunsPage:
    runs: list[dict[str, Any]]  # newest first
    chart: Chart
    optional_counts: tuple[tuple[str, str], ...]


def read_runs(store: Any, limit: int = RUNS_LISTED, chart_bars: int | None = None) -> RunsPage:
    runs = store.runs(limit) if store is not None else []
    chart = outcome_chart(runs) if chart_bars is None else outcome_chart(runs, max_bars=chart_bars)
    present = tuple(
        (key, label)
        for key, label in OPTIONAL_COUNTS
        if any(key in (r.get("totals") or {}) for r in runs)
    )
    return RunsPage(runs, chart, present)


@dataclass
class RunPage:
    report: dict[str, Any]
    campaign_lines: dict[int, str]  # book index -> the campaign sentence of the text report
    error_lines: list[str]
    optional_counts: tuple[tuple[str, str], ...]


def read_run(store: Any, run_id: str) -> RunPage | None:
    report = store.run_report(run_id) if store is not None else None
    if report is None:
        return None
    books = report.get("books") or []
    lines = {
        i: line
        for i, b in enumerate(books)
        if (line := campaign_line(b, dry=bool(report.get("dry_run"))))
    }
    present = tuple((k, label) for k, label in OPTIONAL_COUNTS if any(k in b for b in books))
    return RunPage(report, lines, error_lines(report), present)
