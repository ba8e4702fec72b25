"""`leadsync report --html FILE` (issue 16): one self-contained file with the overview, the
runs chart and the failed and skipped records of the last N runs; the scheduled-sync workflow
writes it and uploads it next to the JSON report."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

WORKFLOW = Path(__file__).resolve().parents[2] / ".github" / "workflows" / "leadsync-sync.yml"


def test_the_html_report_is_self_contained_and_holds_the_runs_and_problems(
    audit_world, page, tmp_path
):
    out = tmp_path / "report.html"
    proc = audit_world.ws.run(
        "report", "-c", "leadsync.yaml", "--html", str(out), "--runs", "5", check=(0,)
    )
    problems = audit_world.records("failed") + audit_world.records("skipped")
    assert proc.stdout.strip() == f"wrote {out}: 2 runs, {len(problems)} failed or skipped records"
    html = out.read_text(encoding="utf-8")
    # nothing to fetch: no script, no stylesheet or image from anywhere, links only to the org
    assert "<script" not in html.lower().replace("&lt;script", "")
    assert not re.search(r'<link[^>]+rel="stylesheet"', html)
    for attr, value in re.findall(r'\b(href|src)="([^"]*)"', html):
        assert value.startswith((audit_world.ws.emu.sf_instance_url + "/lightning/r/", "data:")), (
            attr,
            value,
        )
    for secret in audit_world.secrets.values():
        assert secret not in html
    assert "&lt;script&gt;window.__xss=3&lt;/script&gt;" in html  # markup from Dotdigital is text

    driver = page.open(out.as_uri())
    assert page.console_errors() == []
    page.screenshot("report")
    shown = {r.get_attribute("data-email") for r in page.css("tr[data-email]")}
    assert shown == {r["email"] for r in problems}
    assert len(page.css("svg.chart g")) == 2 and len(page.css("table.runs tr[data-run-id]")) == 2
    tiles = {t.get_attribute("data-total"): t.text.split("\n")[0] for t in page.css("[data-total]")}
    assert tiles["failed"] == str(len(audit_world.records("failed")))
    assert driver.execute_script("return window.__xss") is None


def test_the_sync_workflow_writes_the_html_report_and_uploads_it(audit_world, tmp_path):
    steps = yaml.safe_load(WORKFLOW.read_text())["jobs"]["sync"]["steps"]
    html_step = next(s for s in steps if "leadsync report" in s.get("run", ""))
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
    assert html_step["if"] == "always()" and upload["if"] == "always()"
    assert steps.index(html_step) < steps.index(upload)
    assert {"sync-report.json", "sync-report.html"} <= set(upload["with"]["path"].split())
    env = {**audit_world.ws.env, "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"}
    proc = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", html_step["run"]],
        cwd=audit_world.ws.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    report = audit_world.ws.root / "sync-report.html"
    assert "Sync report" in report.read_text() and "::warning::" not in proc.stdout
