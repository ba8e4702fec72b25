"""The audit's pure parts: chart geometry, filters and paging tokens, CSV cells, links, times."""

from __future__ import annotations

import pytest

from leadsync.state.audit import LedgerQuery, like_pattern, where_clause
from leadsync.ui.chart import HEIGHT, outcome_chart
from leadsync.ui.labels import run_status
from leadsync.ui.records import (
    FilterError,
    SalesforceLinks,
    csv_cell,
    key_token,
    parse_filter,
    safe_base,
)
from leadsync.ui.times import duration, human_time, run_time


def run(run_id: str, **totals: int) -> dict:
    seen = sum(totals.values())
    return {
        "run_id": run_id,
        "started_at": "2026-11-29T13:23:11Z",
        "totals": {"seen": seen, **totals},
    }


def test_chart_bars_stack_to_each_runs_seen_on_a_round_axis():
    chart = outcome_chart(
        [run("b", created=3, failed=1), run("a", created=60, excluded_existing=13)]
    )
    assert [b.run_id for b in chart.bars] == ["a", "b"]  # oldest on the left
    assert [t.label for t in chart.ticks] == ["0", "20", "40", "60", "80"]
    scale = (chart.plot_bottom - chart.ticks[-1].y) / 80
    for bar, seen in zip(chart.bars, (73, 4), strict=True):
        assert sum(s.height for s in bar.segments) == pytest.approx(seen * scale, abs=0.05)
        assert min(s.y for s in bar.segments) >= 0 and chart.plot_bottom <= HEIGHT
    assert [s.title for s in chart.bars[1].segments] == ["Created: 3", "Failed: 1"]
    assert outcome_chart([]).empty and outcome_chart([run("z")]).bars[0].segments == ()


def test_filters_are_read_and_refused_by_name():
    flt = parse_filter(
        {"state": "failed", "book": "12", "q": " Jane ", "after": key_token(("uk.eu", 12, 99))}
    )
    assert (flt.state, flt.book, flt.q, flt.after) == ("failed", 12, "Jane", ("uk.eu", 12, 99))
    assert flt.url(state="skipped") == "/records?state=skipped&book=12&q=Jane"
    for bad, word in (
        ({"state": "lost"}, "state"),
        ({"book": "x"}, "book"),
        ({"after": "1"}, "after"),
    ):
        with pytest.raises(FilterError, match=word):
            parse_filter(bad)


def test_the_email_search_takes_percent_and_underscore_literally():
    assert like_pattern("A_b%\\") == "%a\\_b\\%\\\\%"
    sql, params = where_clause(
        LedgerQuery(states=("failed", "skipped"), email="x", last_runs=("r",))
    )
    assert sql == "state IN (?, ?) AND email LIKE ? ESCAPE '\\' AND last_run IN (?)"
    assert params == ["failed", "skipped", "%x%", "r"]


def test_csv_cells_never_start_a_formula():
    assert [
        csv_cell(v) for v in ("=HYPERLINK(1)", "+1", "-2", "@x", "ok", None, True, ["A", "B"])
    ] == ["'=HYPERLINK(1)", "'+1", "'-2", "'@x", "ok", "", "true", "A; B"]


def test_salesforce_links_need_an_http_org_and_a_real_id():
    links = SalesforceLinks(safe_base("https://user:pw@acme.my.salesforce.com/"))
    assert links.link("00Q8d0000000002EAA") == (
        "Lead",
        "https://acme.my.salesforce.com/lightning/r/Lead/00Q8d0000000002EAA/view",
    )
    assert links.link("0038d0000000001AAA")[0] == "Contact"
    assert links.link('00Q"><script>') == (None, None)
    assert safe_base("javascript:alert(1)") is None and safe_base(None) is None


def test_times_and_run_states_read_as_people_say_them():
    assert (
        human_time("2026-11-29T13:23:11Z")
        == human_time("2026-11-29T13:23:11.5+00:00")
        == "29 Nov 2026 13:23 UTC"
    )
    assert (
        run_time("20261129T132311Z-9529fa") == "29 Nov 2026 13:23 UTC"
        and run_time("manual") is None
    )
    assert duration("2026-11-29T13:23:11Z", "2026-11-29T13:24:16Z") == "1 min 5 s"
    assert run_status({"status": "done", "totals": {"failed": 1}})[1] == "attention"
    assert run_status({"status": "incomplete", "totals": {}})[1] == "warn"
