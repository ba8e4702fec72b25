"""Start-up of `leadsync sync` (issue 17): a config that conforms to the schema is checked
without importing jsonschema, and a config edited with a mistake is still refused by the sync
with its line and key. Real CLI as a process (`-X importtime` lists what it imported), real
emulators."""

from __future__ import annotations

import subprocess
import sys


def _sync(ws) -> subprocess.CompletedProcess:
    """`leadsync sync --json` as the console script runs it, listing its imports on stderr."""
    return subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "leadsync.cli", "sync", "--json"],
        cwd=ws.root,
        env=ws.env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _imported(proc: subprocess.CompletedProcess) -> set[str]:
    return {
        line.rsplit("|", 1)[1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def test_a_sync_checks_its_config_without_jsonschema_and_still_refuses_a_bad_edit(
    workspace, kit
) -> None:
    ws = workspace()
    ws.add_member("ada@example.com", kit.member("Ada", "Lovelace", "Analytical"))
    ok = _sync(ws)
    assert ok.returncode == 0, ok.stderr[-3000:]
    assert "ada@example.com" in ws.leads()
    assert "leadsync.config.conformance" in _imported(ok)
    assert "jsonschema" not in _imported(ok)

    # edited after the apply: a wrong type in the file, checked by the sync before any call
    text = kit.config_yaml(sync={"bulk_threshold": "lots"})
    ws.write_config(text)
    ws.add_member("hedy@example.com", kit.member("Hedy", "Lamarr", "Frequency"))
    leads = set(ws.leads())
    bad = _sync(ws)
    assert bad.returncode == 1, bad.stderr[-3000:]
    line = text.splitlines().index('  bulk_threshold: "lots"') + 1
    errors = [ln for ln in bad.stderr.splitlines() if " error LS" in ln]
    assert errors == [
        f"leadsync.yaml:{line}:19: error LS022: must be a whole number, not text "
        "[sync.bulk_threshold]"
    ]
    assert set(ws.leads()) == leads  # nothing written
