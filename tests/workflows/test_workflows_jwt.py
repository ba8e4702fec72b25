"""The scheduled and applying workflows log in with the JWT bearer flow: no password and no
access token that expires under a schedule. The key step is run for real, as the runner would."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import yaml

WORKFLOWS = Path(__file__).resolve().parents[2] / ".github" / "workflows"
KEY = "-----BEGIN PRIVATE KEY-----\nMIIEvQ-not-a-real-key-QUJD\n-----END PRIVATE KEY-----"


def _job(name: str) -> dict:
    doc = yaml.safe_load((WORKFLOWS / name).read_text())
    return next(iter(doc["jobs"].values()))


def test_apply_and_sync_read_the_jwt_secrets_and_no_access_token() -> None:
    for name in ("leadsync-apply.yml", "leadsync-sync.yml"):
        job = _job(name)
        env = job["env"]
        assert "SF_ACCESS_TOKEN" not in env, name
        assert env["SF_USERNAME"] == "${{ secrets.SF_USERNAME }}", name
        assert env["SF_CONSUMER_KEY"] == "${{ secrets.SF_CONSUMER_KEY }}", name
        names = [s.get("name") or s.get("uses", "") for s in job["steps"]]
        key_at = names.index("Salesforce JWT key")
        install_at = names.index("Install leadsync")
        assert key_at < install_at, name  # the key file exists before any leadsync command


def test_the_key_step_writes_a_private_file_and_echoes_nothing(tmp_path: Path) -> None:
    step = next(
        s for s in _job("leadsync-sync.yml")["steps"] if s.get("name") == "Salesforce JWT key"
    )
    assert step["env"] == {"SF_JWT_PRIVATE_KEY": "${{ secrets.SF_JWT_PRIVATE_KEY }}"}
    github_env = tmp_path / "github_env"
    runner_temp = tmp_path / "runner"
    runner_temp.mkdir()
    proc = subprocess.run(
        ["bash", "-e", "-c", step["run"]],
        env={
            "PATH": os.environ["PATH"],
            "SF_JWT_PRIVATE_KEY": KEY,
            "RUNNER_TEMP": str(runner_temp),
            "GITHUB_ENV": str(github_env),
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "PRIVATE KEY" not in proc.stdout + proc.stderr
    key_file = runner_temp / "sf-jwt.key"
    assert key_file.read_text() == KEY + "\n"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert github_env.read_text() == f"SF_PRIVATE_KEY_FILE={key_file}\n"
