"""`make demo` ends by printing the command that opens the UI on the demo state (issue 16), and
that command, run as printed (plus a free port), serves the audit of the demo's sync."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def test_demo_ends_with_the_command_that_opens_the_ui_on_its_state(tmp_path: Path) -> None:
    shutil.copy(ROOT / "leadsync.yaml.example", tmp_path / "leadsync.yaml.example")
    demo = subprocess.run(
        [sys.executable, "-m", "leadsync.demo"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert demo.returncode == 0, (demo.stdout[-3000:], demo.stderr[-3000:])
    tail = demo.stdout.strip().splitlines()[-4:]
    assert tail[0].startswith("open the sync audit in your browser"), tail
    command = tail[1].split()
    assert command[1:] == ["ui", "--state", "sqlite:.demo/.leadsync/state.db"], tail
    assert "http://127.0.0.1:8765/" in tail[2]
    assert "Webinar signups" in (tmp_path / ".demo" / "sync-report.html").read_text()
    ready = tmp_path / "ui.json"
    ui = subprocess.Popen(
        [*command, "--port", "0", "--ready-file", str(ready)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = ui.stdout.readline()  # printed once it serves (after the ready file is written)
        assert "leadsync ui: the sync audit of" in line, line
        url = json.loads(ready.read_text())["url"]
        page = requests.get(url + "records?state=failed", timeout=30).text
        assert "hedy@example.com" in page and "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST" in page
    finally:
        ui.terminate()
        assert ui.wait(timeout=30) == 0
