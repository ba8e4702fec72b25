"""`leadsync fmt` end to end: the real console script in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LEADSYNC = str(Path(sys.executable).parent / "leadsync")
EXAMPLE = (ROOT / "leadsync.yaml.example").read_text(encoding="utf-8")
SECRET = "tok-9f8e7d6c5b4a"

MESSY = """\
accounts:
  uk:
    lead_mapping:
    - {direction: two-way, datafield: FIRSTNAME, salesforce: FirstName}  # row
    dotdigital: {password: "${DD_UK_PASSWORD}", username: u, endpoint: "https://h"}
salesforce:
  auth:
    access_token: ${SF_ACCESS_TOKEN}   # from env
  instance_url: https://x.example
version: 1
"""


def leadsync(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SF_ACCESS_TOKEN": SECRET, "DD_UK_PASSWORD": SECRET}
    return subprocess.run(
        [LEADSYNC, "fmt", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )


def test_check_passes_on_the_canonical_example(tmp_path: Path) -> None:
    (tmp_path / "leadsync.yaml").write_text(EXAMPLE, encoding="utf-8")
    result = leadsync("--check", cwd=tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_check_fails_names_the_file_and_writes_nothing(tmp_path: Path) -> None:
    config = tmp_path / "leadsync.yaml"
    config.write_text(MESSY, encoding="utf-8")
    result = leadsync("--check", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == "leadsync.yaml\n"
    assert config.read_text(encoding="utf-8") == MESSY

    with_diff = leadsync("--check", "--diff", "leadsync.yaml", cwd=tmp_path)
    assert with_diff.returncode == 1
    assert "--- leadsync.yaml\n+++ leadsync.yaml (formatted)\n" in with_diff.stdout
    assert "+version: 1\n" in with_diff.stdout
    assert config.read_text(encoding="utf-8") == MESSY


def test_rewrite_in_place_keeps_mode_and_never_prints_secrets(tmp_path: Path) -> None:
    config = tmp_path / "custom.yaml"
    config.write_text(MESSY, encoding="utf-8")
    config.chmod(0o640)
    result = leadsync("custom.yaml", "--diff", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("custom.yaml\n")
    assert SECRET not in result.stdout + result.stderr
    text = config.read_text(encoding="utf-8")
    assert SECRET not in text
    assert oct(config.stat().st_mode & 0o777) == oct(0o640)
    assert text.startswith("version: 1\n\nsalesforce:\n  instance_url: https://x.example\n")
    assert "    access_token: ${SF_ACCESS_TOKEN}   # from env\n" in text
    assert "      password: ${DD_UK_PASSWORD}\n" in text
    assert (
        "      - {salesforce: FirstName, datafield: FIRSTNAME, direction: two-way}  # row\n" in text
    )
    assert [p.name for p in tmp_path.iterdir()] == ["custom.yaml"]  # no temp file left

    again = leadsync("custom.yaml", cwd=tmp_path)
    assert (again.returncode, again.stdout) == (0, "")
    assert leadsync("--check", "custom.yaml", cwd=tmp_path).returncode == 0


def test_broken_yaml_one_line_no_traceback_file_untouched(tmp_path: Path) -> None:
    config = tmp_path / "leadsync.yaml"
    broken = "version: 1\naccounts:\n  uk: {dotdigital: [\n"
    config.write_text(broken, encoding="utf-8")
    before = config.stat().st_mtime_ns
    for args in ((), ("--check",)):
        result = leadsync(*args, cwd=tmp_path)
        assert result.returncode == 1
        assert result.stdout == ""
        assert result.stderr.startswith("error: leadsync.yaml:4:1: invalid YAML")
        assert result.stderr.count("\n") == 1
        assert "Traceback" not in result.stderr
    assert config.read_text(encoding="utf-8") == broken
    assert config.stat().st_mtime_ns == before


def test_missing_file_is_one_clear_line(tmp_path: Path) -> None:
    result = leadsync("nope.yaml", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (1, "error: nope.yaml: no such file\n")
