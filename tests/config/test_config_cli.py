"""`leadsync validate` as users run it: exit codes, one line per finding, no traceback, no secret."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

from click.testing import CliRunner

from leadsync.cli import cli

REPO = Path(__file__).resolve().parents[2]
LEADSYNC = REPO / ".venv" / "bin" / "leadsync"
LINE = re.compile(r"^.+:\d+:\d+: (error|warning) LS\d{3}: .+ \[.+\]$")

# A config full of mistakes around secrets: literal ones, env ones, secrets in the wrong place.
BAD = """\
version: 1
salesforce:
  instance_url: ${SF_INSTANCE_URL}
  auth:
    access_token: ${SF_ACCESS_TOKEN}
    password: lit-PASSWORD-a1
    security_token: 12345
  api_version: 61.0
accounts:
  uk:
    dotdigital:
      endpoint: ${DD_UK_USERNAME}
      region: ${DD_UK_PASSWORD}
      username: ${DD_UK_USERNAME}
      password: ${DD_UK_PASSWORD}
    clear_address_books: true
    lead_mapping:
      - {salesforce: "${DD_UK_PASSWORD}", datafield: "${DD_UK_PASSWORD}", direction: "${SF_ACCESS_TOKEN}"}
    address_books:
      - {name: "${DD_UK_PASSWORD}", create_leads: true}
      - {name: "${DD_UK_PASSWORD}", create_leads: true}
"""


def run(args, env, cwd=None):
    full_env = {"PATH": os.environ.get("PATH", ""), **env}
    return subprocess.run(
        [str(LEADSYNC), *args], env=full_env, cwd=cwd, capture_output=True, text=True, check=False
    )


def test_example_validates_via_the_real_command(env):
    proc = run(["validate", str(REPO / "leadsync.yaml.example")], env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.strip().endswith("leadsync.yaml.example: valid")


def test_default_path_and_missing_file_is_one_line(tmp_path, env):
    proc = run(["validate"], env, cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == [
        "leadsync.yaml:1:1: error LS001: cannot read the config file: No such file or directory [$]"
    ]
    assert proc.stderr == "" and "Traceback" not in proc.stdout


def test_errors_exit_1_one_per_line_without_secrets(write, env, secret_values):
    path = write(BAD)
    proc = run(["validate", path], env)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert len(lines) > 5 and all(LINE.match(line) for line in lines), lines
    assert "Traceback" not in proc.stderr
    codes = {re.search(r" (LS\d{3}): ", line).group(1) for line in lines}
    assert {"LS012", "LS022", "LS023", "LS024", "LS025", "LS026", "LS101", "LS106"} <= codes
    json_proc = run(["validate", path, "--json"], env)
    assert json_proc.returncode == 1
    items = json.loads(json_proc.stdout)
    assert len(items) == len(lines)
    assert all(i["line"] >= 1 and i["file"] == path for i in items)
    everything = proc.stdout + proc.stderr + json_proc.stdout + json_proc.stderr
    for secret in [*secret_values, "lit-PASSWORD-a1"]:
        assert secret not in everything


def test_warnings_only_exit_0(write, base, env):
    path = write(base.replace("${SF_ACCESS_TOKEN}", "literal-tok"))
    proc = run(["validate", path, "--json"], env)
    assert proc.returncode == 0
    [item] = json.loads(proc.stdout)
    assert item["code"] == "LS012" and item["severity"] == "warning"
    assert set(item) == {"code", "severity", "message", "path", "file", "line", "column"}
    assert "literal-tok" not in proc.stdout + proc.stderr


def test_click_runner_exit_codes(write, base, env):
    runner = CliRunner()
    ok = runner.invoke(cli, ["validate", write(base)], env=env)
    assert ok.exit_code == 0, ok.output
    bad = runner.invoke(
        cli, ["validate", write(base.replace("version: 1", "version: 9")), "--json"], env=env
    )
    assert bad.exit_code == 1
    assert json.loads(bad.stdout)[0]["code"] == "LS027"


def test_validate_writes_nothing_and_needs_no_network(tmp_path, env):
    """Offline by construction: unreachable endpoints are fine and no state file appears."""
    config = (REPO / "leadsync.yaml.example").read_text()
    (tmp_path / "leadsync.yaml").write_text(config)
    offline = {
        **env,
        "SF_INSTANCE_URL": "https://192.0.2.1:9",
        "DD_UK_ENDPOINT": "http://192.0.2.1:9",
    }
    proc = run(["validate"], offline, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["leadsync.yaml"]
