"""The example workflows users copy must at least be well-formed and do what the README says."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

WORKFLOWS = Path(__file__).resolve().parents[2] / ".github" / "workflows"


def load(name: str) -> dict:
    doc = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as True; GitHub reads it as "on".
    doc["on"] = doc.pop(True, doc.get("on"))
    return doc


def run_lines(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_every_workflow_parses_and_uses_pinned_action_majors() -> None:
    for path in WORKFLOWS.glob("*.yml"):
        doc = load(path.name)
        assert doc["jobs"], path
        for job in doc["jobs"].values():
            for step in job["steps"]:
                if "uses" in step:
                    assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", step["uses"]), step["uses"]


def test_ci_runs_the_readme_test_command() -> None:
    assert ".ci/run" in run_lines(load("ci.yml")["jobs"]["test"])
    assert "make test" in (WORKFLOWS.parents[1] / ".ci" / "run").read_text()


def test_plan_workflow_comments_once_and_uploads_the_plan() -> None:
    doc = load("leadsync-plan.yml")
    assert doc["on"]["pull_request"]["paths"] == ["leadsync.yaml"]
    job = doc["jobs"]["plan"]
    lines = run_lines(job)
    assert "leadsync validate" in lines
    assert "--markdown --detailed-exitcode --out leadsync.plan" in lines
    uses = [s.get("uses", "") for s in job["steps"]]
    assert any(u.startswith("actions/upload-artifact@") for u in uses)
    script = next(s["with"]["script"] for s in job["steps"] if "github-script" in s.get("uses", ""))
    assert "updateComment" in script and "createComment" in script  # one comment, updated


def test_apply_workflow_applies_the_saved_plan_without_races() -> None:
    doc = load("leadsync-apply.yml")
    assert doc["on"]["push"]["branches"] == ["main"]
    assert doc["concurrency"]["group"] == "leadsync-apply"
    assert doc["concurrency"]["cancel-in-progress"] is False
    assert "leadsync apply -c leadsync.yaml leadsync.plan" in run_lines(doc["jobs"]["apply"])


@pytest.mark.parametrize(
    ("code", "report", "fails"),
    [
        (0, '{"status": "done"}', False),
        (4, '{"status": "done"}', False),  # records failed/skipped for their data: a warning
        (4, '{"status": "incomplete"}', True),  # records pending because writes failed
        (3, '{"status": "stopped"}', True),
        (1, '{"status": "error", "code": "lock_held"}', True),
        (1, "", True),  # no report at all
    ],
)
def test_sync_workflow_fails_on_error_limit_stop_and_incomplete(
    tmp_path: Path, code: int, report: str, fails: bool
) -> None:
    doc = load("leadsync-sync.yml")
    assert "schedule" in doc["on"]
    job = doc["jobs"]["sync"]
    assert "leadsync sync -c leadsync.yaml --json" in run_lines(job)
    step = next(s for s in job["steps"] if s.get("id") == "verdict")
    script = step["run"].replace("${{ steps.sync.outputs.exitcode }}", str(code))
    (tmp_path / "sync-report.json").write_text(report)
    proc = subprocess.run(
        ["bash", "-e", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert (proc.returncode != 0) is fails, (proc.stdout, proc.stderr)


def test_secrets_only_reach_env_never_command_lines() -> None:
    for path in WORKFLOWS.glob("leadsync-*.yml"):
        for job in load(path.name)["jobs"].values():
            assert "secrets." not in run_lines(job), path
            for value in job.get("env", {}).values():
                assert value.startswith("${{ secrets."), value
