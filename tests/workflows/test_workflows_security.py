"""The workflows carry Salesforce and Dotdigital credentials: the GitHub Actions security linter
finds nothing at medium or above in them, and each one is valid against GitHub's workflow schema.

Both tools come with the test extra and run offline (`zizmor --offline`; check-jsonschema's
`vendor.github-workflows` schema ships inside the package). Each check also runs once against a
deliberately bad workflow, so a broken tool call cannot pass silently.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

WORKFLOWS = Path(__file__).resolve().parents[2] / ".github" / "workflows"
BIN = Path(sys.executable).parent

BAD_WORKFLOW = """\
name: bad
on: pull_request
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: echo "${{ github.event.pull_request.title }}"
"""


def tool(name: str) -> str:
    path = shutil.which(name, path=str(BIN)) or shutil.which(name)
    assert path, f"{name} is not installed: `make install` installs the test extra"
    return path


def zizmor_findings(folder: Path, persona: str) -> list[dict]:
    proc = subprocess.run(
        [
            tool("zizmor"),
            "--offline",
            "--no-config",
            "--persona",
            persona,
            "--min-severity",
            "medium",
            "--format",
            "json",
            str(folder),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # zizmor exits non-zero when it reports findings; a crash leaves no JSON on stdout.
    assert proc.stdout.strip().startswith("["), proc.stderr
    return json.loads(proc.stdout)


def schema_check(paths: list[Path]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            tool("check-jsonschema"),
            "--builtin-schema",
            "vendor.github-workflows",
            *map(str, paths),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _summary(findings: list[dict]) -> list[str]:
    return [
        f"{f['ident']} ({f['determinations']['severity']}) "
        f"{f['locations'][0]['symbolic']['key']['Local']['given_path']}"
        for f in findings
    ]


@pytest.mark.parametrize("persona", ["regular", "auditor"])
def test_zizmor_finds_nothing_at_medium_or_above(persona: str) -> None:
    findings = zizmor_findings(WORKFLOWS, persona)
    assert findings == [], _summary(findings)


def test_every_workflow_is_valid_against_the_github_workflow_schema() -> None:
    paths = sorted(WORKFLOWS.glob("*.yml"))
    assert len(paths) >= 4
    proc = schema_check(paths)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_both_checks_fail_on_a_bad_workflow(tmp_path: Path) -> None:
    folder = tmp_path / ".github" / "workflows"
    folder.mkdir(parents=True)
    (folder / "bad.yml").write_text(BAD_WORKFLOW)
    idents = {f["ident"] for f in zizmor_findings(folder, "regular")}
    assert {"unpinned-uses", "template-injection", "artipacked"} <= idents, idents
    (folder / "bad.yml").write_text(BAD_WORKFLOW.replace("runs-on", "runs-onn"))
    assert schema_check([folder / "bad.yml"]).returncode != 0
