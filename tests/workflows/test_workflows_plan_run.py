"""The plan workflow's shell steps, run as GitHub runs them (bash -e, $GITHUB_OUTPUT), against
the emulators: a failing plan still produces the Markdown comment with its errors, the plan step
lets the comment step run, and the last step fails the job."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "leadsync-plan.yml"


def steps() -> dict[str, dict]:
    job = yaml.safe_load(WORKFLOW.read_text())["jobs"]["plan"]
    return {s.get("id") or s.get("name", ""): s for s in job["steps"]}


class Runner:
    """One checkout of the user's repository: leadsync.yaml and the job's environment."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root = root
        self.output = root / "github_output"
        self.output.write_text("")
        venv_bin = str(Path(sys.executable).parent)
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("SF_", "DD_"))},
            **env,
            "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
            "GITHUB_OUTPUT": str(self.output),
        }
        self.env.pop("REQUESTS_CA_BUNDLE", None)

    def step(self, name: str, **env: str) -> subprocess.CompletedProcess[str]:
        """The step's `run` script with GitHub's default shell for Linux runners."""
        step = steps()[name]
        script = self.root / f"step-{abs(hash(name))}.sh"
        script.write_text(step["run"])
        return subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=self.root,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def outputs(self) -> dict[str, str]:
        lines = self.output.read_text().splitlines()
        return dict(line.split("=", 1) for line in lines if "=" in line)

    def comment(self) -> str:
        return (self.root / "plan.md").read_text()


@pytest.fixture
def runner(tmp_path, emulator) -> Runner:
    shutil.copy(ROOT / "leadsync.yaml.example", tmp_path / "leadsync.yaml")
    return Runner(tmp_path, emulator.env())


def test_an_invalid_config_is_commented_and_fails_the_job(runner):
    text = (runner.root / "leadsync.yaml").read_text()
    (runner.root / "leadsync.yaml").write_text(text.replace("lead_status: New", "lead_stat: New"))
    assert runner.step("Validate (offline)").returncode == 1
    plan = runner.step("plan")
    assert plan.returncode == 0, plan.stderr  # the comment step must still run
    assert runner.outputs()["exitcode"] == "1"
    comment = runner.comment()
    assert comment.startswith("### leadsync plan: failed\n")
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if "lead_status: New" in ln)
    assert f"- `leadsync.yaml:{line}` LS020: " in comment and "lead_stat" in comment
    assert "Traceback" not in plan.stderr
    fail = runner.step("Fail the job when the plan failed", PLAN_EXIT="1")
    assert fail.returncode == 1 and "leadsync plan failed" in fail.stdout


def test_refused_credentials_are_commented_without_the_token(runner):
    runner.env["SF_ACCESS_TOKEN"] = "00Dwrong00000000!not-the-token-XYZZY"
    plan = runner.step("plan")
    assert plan.returncode == 0 and runner.outputs()["exitcode"] == "1"
    comment = runner.comment()
    assert comment.startswith("### leadsync plan: failed\n\nNothing was planned.\n")
    assert "```text\n" in comment and "Salesforce" in comment
    assert "XYZZY" not in comment + plan.stderr
    assert runner.step("Fail the job when the plan failed", PLAN_EXIT="1").returncode == 1


def test_a_plan_with_changes_is_commented_and_passes(runner):
    plan = runner.step("plan")
    assert plan.returncode == 0 and runner.outputs()["exitcode"] == "2", plan.stderr
    assert runner.comment().startswith("### leadsync plan: 12 to create, 0 to update, 0 to delete")
    assert (runner.root / "leadsync.plan").is_file()
    assert runner.step("Fail the job when the plan failed", PLAN_EXIT="2").returncode == 0
