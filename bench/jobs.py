"""Many accounts in one run: `sync --jobs 8` against `--jobs 1` on the same data (issue 17).

100 Dotdigital accounts, each with a linked book that gains 1,000 new members, at 50 ms of
latency per request: each `--jobs` setting runs on a fresh emulator and state with the same
data, so the two runs' API calls must be equal and only the wall time may differ.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import Build, Emulator, account_head, config_head, run_measured

BOOK = "Bench book"
CAMPAIGN = "Bench Campaign"
MAPPED = {"FIRSTNAME": "First{n}", "LASTNAME": "Last{n}", "COMPANY": "Company {n}"}


@dataclass
class JobsRun:
    build: str
    jobs: int
    accounts: int
    leads: int
    dd_calls: int
    sf_calls: int
    wall_s: float
    cpu_s: float  # the runner's and, with --jobs N, its worker processes' (reaped by it)
    emulator_cpu_s: float = 0.0  # the emulator's CPU during the sync (it shares the cores)

    @property
    def calls(self) -> int:
        return self.dd_calls + self.sf_calls


def supports_jobs(build: Build) -> bool:
    """Whether this build's `sync` takes --jobs (a revision from before it does not)."""
    out = subprocess.run(
        build.cmd("sync", "--help"), env=build.env({}), capture_output=True, text=True
    )
    return "--jobs" in out.stdout


def seed(accounts: int) -> dict[str, Any]:
    return {
        "dotdigital": {
            "accounts": [
                {
                    "name": f"a{a}",
                    "username": f"apiuser-a{a}@apiconnector.com",
                    "password": f"pw-{a}",
                    "datafields": [{"name": "COMPANY", "type": "String"}],
                    "address_books": [{"name": BOOK}],
                }
                for a in range(accounts)
            ]
        },
        "salesforce": {
            "lead_statuses": ["New", "Working", "Closed - Converted"],
            "duplicate_rule_on_lead_email": False,
            "daily_api_limit": 100_000_000,
            "records": {"Campaign": [{"Name": CAMPAIGN}]},
        },
    }


def config(accounts: int) -> str:
    out = config_head("defaults: {lead_status: New, campaign_member_status: Sent}")
    for a in range(accounts):
        out += [
            *account_head(a),
            "    clear_address_books: false",
            "    create_missing_datafields: false",
            "    lead_mapping:",
            "      - {salesforce: FirstName, datafield: FIRSTNAME, direction: two-way}",
            "      - {salesforce: LastName, datafield: LASTNAME, direction: dotdigital-to-salesforce}",
            "      - {salesforce: Company, datafield: COMPANY, direction: two-way}",
            "    address_books:",
            f"      - {{name: {BOOK}, create_leads: true, campaign: {CAMPAIGN}}}",
        ]
    return "\n".join(out) + "\n"


def run_jobs(
    work: Path, build: Build, jobs: int, *, accounts: int, new: int, latency_ms: int
) -> JobsRun:
    work.mkdir(parents=True)
    (work / "leadsync.yaml").write_text(config(accounts))
    with Emulator(seed(accounts), work / "emulator", latency_ms) as emu:
        env = build.env(emu.env())
        apply = run_measured(
            build.cmd("apply", "-c", "leadsync.yaml", "--auto-approve"), env=env, cwd=work
        )
        if apply.code != 0:
            raise SystemExit(f"bench: apply exited {apply.code}\n{apply.stderr[-2000:]}")
        for a in range(accounts):
            block = {"count": new, "email": f"a{a}-new{{n}}@bench.example", "datafields": MAPPED}
            emu.add_generated_members(f"a{a}", emu.book_id(f"a{a}", BOOK), block)
        emu.reset_logs()
        cmd = build.cmd("sync", "-c", "leadsync.yaml", "--json", "--jobs", str(jobs))
        emulator_before = emu.cpu_s()
        m = run_measured(cmd, env=env, cwd=work)
        emulator_cpu = emu.cpu_s() - emulator_before
        if m.code != 0:
            raise SystemExit(f"bench: sync --jobs {jobs} exited {m.code}\n{m.stderr[-2000:]}")
        created = sum(b["created"] for b in json.loads(m.stdout)["books"])
        if created != accounts * new:
            print(f"bench: expected {accounts * new} Leads, got {created}", file=sys.stderr)
        return JobsRun(
            build.label,
            jobs,
            accounts,
            created,
            emu.calls("dotdigital"),
            emu.calls("salesforce"),
            m.wall_s,
            m.cpu_s,
            emulator_cpu,
        )
