"""The example workflows users copy must at least be well-formed and do what the README says."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from leadsync import __version__

WORKFLOWS = Path(__file__).resolve().parents[2] / ".github" / "workflows"


def load(name: str) -> dict:
    doc = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as True; GitHub reads it as "on".
    doc["on"] = doc.pop(True, doc.get("on"))
    return doc


def run_lines(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_every_action_is_pinned_to_a_commit_with_its_version_named() -> None:
    """A tag can be moved to other code; a full commit SHA cannot. The version comment is what
    a reviewer (and Dependabot) reads."""
    for path in WORKFLOWS.glob("*.yml"):
        doc = load(path.name)
        assert doc["jobs"], path
        uses = [s["uses"] for job in doc["jobs"].values() for s in job["steps"] if "uses" in s]
        assert uses, path
        for ref in uses:
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", ref), (path.name, ref)
        lines = [ln for ln in path.read_text().splitlines() if re.match(r"\s*(- )?uses:", ln)]
        for line in lines:
            assert re.search(r"@[0-9a-f]{40} # v\d+\.\d+\.\d+$", line), (path.name, line)


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


def test_plan_workflow_comments_a_failed_plan_then_fails_the_job() -> None:
    """A failed plan's errors are the comment the reviewer needs: the plan step records the
    exit code and succeeds, the comment is posted also after a failed validation, and only
    the last step fails the job (tests/workflows/test_workflows_plan_run.py runs them)."""
    steps = load("leadsync-plan.yml")["jobs"]["plan"]["steps"]
    names = [s.get("id") or s.get("name") for s in steps]
    plan = steps[names.index("plan")]
    assert "!cancelled()" in plan["if"]  # runs after a failed `leadsync validate` too
    assert 'echo "exitcode=$code" >> "$GITHUB_OUTPUT"' in plan["run"]
    assert plan["run"].rstrip().endswith("exit 0")
    comment = next(s for s in steps if "github-script" in s.get("uses", ""))
    assert "!cancelled()" in comment["if"] and "steps.plan.outcome == 'success'" in comment["if"]
    upload = next(s for s in steps if "upload-artifact" in s.get("uses", ""))
    assert "exitcode == '0'" in upload["if"] and "exitcode == '2'" in upload["if"]
    last = steps[-1]
    assert last["env"]["PLAN_EXIT"] == "${{ steps.plan.outputs.exitcode }}"
    assert "exit 1" in last["run"] and "!cancelled()" in last["if"]
    assert names.index("plan") < steps.index(comment) < len(steps) - 1


def test_every_job_has_a_timeout() -> None:
    for path in WORKFLOWS.glob("*.yml"):
        for name, job in load(path.name)["jobs"].items():
            minutes = job.get("timeout-minutes")
            assert isinstance(minutes, int) and 0 < minutes <= 120, (path.name, name)


def test_leadsync_workflows_install_the_pinned_release() -> None:
    """Each example installs exactly the leadsync release it was written for (this one), from
    one env var at the top, so an upgrade is a reviewed one-line change."""
    for path in WORKFLOWS.glob("leadsync-*.yml"):
        doc = load(path.name)
        assert doc["env"]["LEADSYNC_VERSION"] == __version__, path.name
        installs = [
            line.strip()
            for job in doc["jobs"].values()
            for line in run_lines(job).splitlines()
            if "pip install" in line
        ]
        assert installs == ['pip install "leadsync[postgres]==${LEADSYNC_VERSION}"'], path.name


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
    assert step["env"] == {"SYNC_EXIT": "${{ steps.sync.outputs.exitcode }}"}
    assert "${{" not in step["run"]  # values reach the script through env, never templated in
    (tmp_path / "sync-report.json").write_text(report)
    proc = subprocess.run(
        ["bash", "-e", "-c", step["run"]],
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"], "SYNC_EXIT": str(code)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (proc.returncode != 0) is fails, (proc.stdout, proc.stderr)


def test_secrets_only_reach_env_never_command_lines() -> None:
    for path in WORKFLOWS.glob("leadsync-*.yml"):
        for job in load(path.name)["jobs"].values():
            assert "secrets." not in run_lines(job), path
            for value in job.get("env", {}).values():
                assert value.startswith("${{ secrets."), value
