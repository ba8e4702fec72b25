"""`make demo` shows campaign attribution (issue 10): the existing Contact who signs up is
excluded from lead creation and appears in the Campaign; and both directions (issue 13): a
Salesforce Campaign fills its Dotdigital book. Runs the demo as `make demo` does."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_demo_shows_the_existing_contact_in_the_campaign(tmp_path: Path) -> None:
    shutil.copy(ROOT / "leadsync.yaml.example", tmp_path / "leadsync.yaml.example")
    proc = subprocess.run(
        [sys.executable, "-m", "leadsync.demo"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-3000:])
    out = proc.stdout
    assert (
        "campaign 'Spring Webinar 2026': 3 new Leads and 1 person already in Salesforce added"
        in out
    )
    campaign = out[out.index("the campaign in Salesforce") :]
    old = next(line for line in campaign.splitlines() if "old@example.com" in line)
    assert "Contact 003" in old and "Sent" in old
    assert "Campaign 'Spring Webinar 2026' has 4 members" in campaign
    # Salesforce -> Dotdigital: the Campaign's Contact and Lead fill the Newsletter book
    assert "push uk/Newsletter <- campaign 'Product Newsletter': 2 added" in out
    book = out[out.index("book in Dotdigital, filled from the Campaign") :]
    assert "Address book 'Newsletter' has 2 members" in book
    assert "barbara@example.com          Barbara Liskov" in book
