"""`leadsync report --html FILE`: the overview, the runs chart and the failed and skipped
records of the last N runs as ONE self-contained HTML file (styles inline, chart as inline
SVG, no script, no link to anything but the Salesforce records), for a scheduled workflow to
upload next to the JSON run report.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from leadsync.state.audit import LedgerQuery
from leadsync.sync.records import book_names
from leadsync.ui import overview, runs
from leadsync.ui.records import RecordRow, SalesforceLinks, row_of
from leadsync.ui.render import favicon, render, stylesheet
from leadsync.ui.server import write_atomically
from leadsync.ui.source import StateSource
from leadsync.wording import plural

MAX_RECORDS = 1000  # rows in the file; the count says how many there are in all


@dataclass
class Problems:
    rows: list[RecordRow]
    total: int


def problems_of(store: object, run_ids: list[str], limit: int = MAX_RECORDS) -> Problems:
    """Failed and skipped records whose last run is one of `run_ids` (newest member first)."""
    if store is None or not run_ids:
        return Problems([], 0)
    query = LedgerQuery(states=("failed", "skipped"), last_runs=tuple(run_ids))
    total = sum(store.ledger_facets(query).values())  # type: ignore[attr-defined]
    applied = store.read_applied()  # type: ignore[attr-defined]
    names, links = book_names(applied), SalesforceLinks.of(applied)
    entries = store.ledger_search(query, limit=limit)  # type: ignore[attr-defined]
    return Problems([row_of(e, names, links) for e in entries], total)


def build_html(source: StateSource, last_runs: int) -> tuple[str, str]:
    """The report's HTML and a one-line summary of what it holds."""
    store = source.store()
    ov = overview.read_overview(source, store)
    page = runs.read_runs(store, limit=last_runs, chart_bars=last_runs)
    problems = problems_of(store, [str(r.get("run_id")) for r in page.runs])
    now = datetime.now(UTC).isoformat(timespec="seconds")
    html = render(
        "report.html",
        title="Sync report",
        active="",
        standalone=True,
        css=stylesheet(),
        favicon_data="data:image/svg+xml," + quote(favicon()),
        where=source.describe(),
        generated_at=now,
        ov=ov,
        runs=page,
        problems=problems,
    )
    summary = (
        f"{plural(len(page.runs), 'run')}, {plural(problems.total, 'failed or skipped record')}"
    )
    return html, summary


def write_report(config_path: str | None, state: str | None, out: str, last_runs: int) -> str:
    """Write the file atomically; return the line the command prints."""
    source = StateSource(config_path, state)
    try:
        html, summary = build_html(source, last_runs)
    finally:
        source.close()
    write_atomically(Path(out), html)
    return f"wrote {out}: {summary}"
