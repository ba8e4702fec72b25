"""The pre-commit hook runs where no secrets are set: unset ${VAR}s warn, real errors still fail."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
LEADSYNC = [sys.executable, "-m", "leadsync.cli"]


def validate(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SF_", "DD_"))}
    return subprocess.run(
        [*LEADSYNC, "validate", *args], cwd=cwd, env=env, capture_output=True, text=True
    )


def test_hook_definition_runs_validate_with_unset_env_allowed() -> None:
    (hook,) = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert hook["entry"] == "leadsync validate --allow-unset-env"
    assert hook["pass_filenames"] is False


def test_unset_env_is_a_warning_with_the_flag_and_an_error_without(tmp_path: Path) -> None:
    (tmp_path / "leadsync.yaml").write_text((REPO / "leadsync.yaml.example").read_text())
    strict = validate("leadsync.yaml", cwd=tmp_path)
    assert strict.returncode == 1
    assert "error LS010" in strict.stdout

    relaxed = validate("--allow-unset-env", "leadsync.yaml", cwd=tmp_path)
    assert relaxed.returncode == 0, relaxed.stdout + relaxed.stderr
    assert "warning LS010" in relaxed.stdout
    assert "Traceback" not in relaxed.stderr


def test_other_errors_still_fail_with_the_flag(tmp_path: Path) -> None:
    text = (REPO / "leadsync.yaml.example").read_text()
    text = text.replace("direction: two-way}", "direction: sideways}", 1)
    (tmp_path / "leadsync.yaml").write_text(text)
    out = validate("--allow-unset-env", "leadsync.yaml", cwd=tmp_path)
    assert out.returncode == 1
    assert "error LS023" in out.stdout
    assert "leadsync.yaml:" in out.stdout
