"""Many accounts in one org, on the SQLite state: --account, --shard, --jobs, locked accounts
skipped, and --log-format json. (The same on PostgreSQL with runners in parallel:
tests/backends/test_scale_out.py.)"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

NAMES = ["north", "south", "west"]
HOLDER = """
import sys
from pathlib import Path
from leadsync.config.model import StateConfig
from leadsync.state import open_store
store = open_store(StateConfig("sqlite", ".leadsync/state.db"), Path(sys.argv[1]))
with store.lock(["account:" + sys.argv[2]], timeout=0, purpose="sync"):
    print("locked", flush=True)
    sys.stdin.readline()
"""


@pytest.fixture
def agency(tmp_path, emulator_factory, kit) -> Any:
    """Three accounts, two new members each, applied."""
    ws = kit.Workspace(tmp_path, emulator_factory(kit.accounts_seed(NAMES)))
    ws.write_config(kit.accounts_config(NAMES))
    ws.apply()
    for name in NAMES:
        kit.add_members(ws.emu, name, 2)
    return ws


def _created_by_account(report: dict[str, Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for book in report["books"]:
        out[book["account"]] = out.get(book["account"], 0) + book["created"]
    return out


def _lead_accounts(ws: Any) -> dict[str, int]:
    """Leads per account, by the account part of the email (<account>-<n>@example.com)."""
    out: dict[str, int] = {}
    for email in ws.leads():  # asserts no duplicate email
        if "-" in email:
            account = email.split("-", 1)[0]
            out[account] = out.get(account, 0) + 1
    return out


def test_account_option_syncs_only_the_named_accounts(agency) -> None:
    report = agency.sync("--account", "north", "--account", "west", code=(0,))
    assert report["accounts"] == ["north", "west"]
    assert _created_by_account(report) == {"north": 2, "west": 2}
    assert _lead_accounts(agency) == {"north": 2, "west": 2}

    report = agency.sync(code=(0,))  # the rest: south only
    assert report["accounts"] == NAMES and _created_by_account(report)["south"] == 2
    assert _lead_accounts(agency) == {"north": 2, "south": 2, "west": 2}


def test_an_unknown_account_or_a_bad_shard_is_exit_1_and_writes_nothing(agency) -> None:
    before = agency.state_rows("SELECT COUNT(*) FROM runs")
    proc = agency.run("sync", "--account", "north", "--account", "east", check=(1,))
    assert proc.stderr.startswith("error: --account east: no such account in the applied state")
    assert "(accounts: north, south, west)" in proc.stderr
    doc = json.loads(agency.run("sync", "--json", "--account", "east", check=(1,)).stdout)
    assert doc["status"] == "error" and doc["code"] == "usage"
    for bad, why in (("3/3", "K must be between 0 and 2"), ("1", "is not K/N"), ("0/0", "N must")):
        proc = agency.run("sync", "--shard", bad, check=(1,))
        assert why in proc.stderr, proc.stderr
    assert agency.state_rows("SELECT COUNT(*) FROM runs") == before
    assert _lead_accounts(agency) == {}


def test_two_shards_split_the_accounts_between_them(agency) -> None:
    first = agency.sync("--shard", "0/2", code=(0,))
    second = agency.sync("--shard", "1/2", code=(0,))
    assert first["shard"] == "0/2" and second["shard"] == "1/2"
    assert sorted(first["accounts"] + second["accounts"]) == NAMES  # each once, none twice
    assert _lead_accounts(agency) == dict.fromkeys(NAMES, 2)
    text = agency.run("sync", "--shard", "0/2", check=(0,)).stdout
    assert f"shard 0/2: accounts synced: {', '.join(first['accounts'])}" in text


def test_a_locked_account_is_skipped_logged_and_left_to_its_runner(agency) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(agency.root), "north"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        report = agency.sync(code=(0,))  # exit code unchanged by the skip
        assert report["status"] == "done"
        assert [s["account"] for s in report["skipped_locked"]] == ["north"]
        assert f"pid {holder.pid}, sync" in report["skipped_locked"][0]["held_by"]
        assert report["accounts"] == ["south", "west"]
        assert (
            "warning: account north skipped: another runner holds its lock" in (report["_stderr"])
        )
        text = agency.run("sync", check=(0,)).stdout
        assert "skipped north: another runner holds its lock" in text
        # asked to wait (here: not at all), a lock still held is an error, as before
        refused = agency.run("sync", "--json", "--lock-timeout", "0", check=(1,))
        assert json.loads(refused.stdout)["code"] == "lock_held"
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    assert _lead_accounts(agency) == {"south": 2, "west": 2}
    report = agency.sync(code=(0,))
    assert report["skipped_locked"] == [] and _created_by_account(report)["north"] == 2
    assert _lead_accounts(agency) == dict.fromkeys(NAMES, 2)


def _hold_member_reads(ws: Any, kit: Any, times: int) -> dict[str, Any]:
    """Hold the next `times` member reads (one per account) until clear_faults()."""
    return ws.emu.inject_fault(
        "dotdigital", method="GET", path_regex=r"^/contacts/v3", delay_ms=600_000, times=times
    )


def _all_taken(ws: Any, fault: dict[str, Any]) -> bool:
    faults = ws.emu.control("dotdigital", "GET", "/__emulator/faults").json()["faults"]
    return next(f for f in faults if f["id"] == fault["id"])["remaining"] == 0


def test_jobs_syncs_accounts_at_once_each_under_its_own_lock(agency, kit) -> None:
    """Three accounts are inside their member reads at the same moment (the emulator holds
    each read until all three have arrived), each under its own lock; then they finish: every
    Lead once, the report's counts and API calls those of the whole run."""
    from leadsync.state.sqlite import SqliteStore

    agency.emu.reset_log()
    hold = _hold_member_reads(agency, kit, times=3)
    proc = agency.popen("sync", "-c", "leadsync.yaml", "--json", "--jobs", "3")
    try:
        kit.until(lambda: _all_taken(agency, hold), "three accounts reading at once", (proc,))
        store = SqliteStore(agency.state_db)
        try:
            holders = store.lock_holders()
        finally:
            store.close()
        assert sorted(h.name for h in holders) == [f"account:{n}" for n in NAMES]
        assert {h.pid for h in holders} == {proc.pid}
        agency.emu.clear_faults()
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    report = json.loads(out)
    # every worker's requests are counted, and only those (read before the test's own queries)
    sf_log = agency.emu.requests_log("salesforce")["requests"]
    assert report["api_calls"]["salesforce"] == len(sf_log)
    dd_log = agency.emu.requests_log("dotdigital")["requests"]
    assert report["api_calls"]["dotdigital"] == len(dd_log)
    assert report["jobs"] == 3 and report["accounts"] == NAMES
    assert [b["account"] for b in report["books"]] == NAMES  # in account order, not finish order
    assert report["totals"]["created"] == 6 and _created_by_account(report) == dict.fromkeys(
        NAMES, 2
    )
    assert _lead_accounts(agency) == dict.fromkeys(NAMES, 2)
    assert len(agency.campaign_members()) == 6


def test_jobs_share_the_orgs_api_budget(tmp_path, emulator_factory, kit) -> None:
    """max_api_share is read from the org's own usage figure, which every worker sees: once
    other runners have used the share, no worker writes another Lead (exit 3, all pending)."""
    ws = kit.Workspace(tmp_path, emulator_factory(kit.accounts_seed(NAMES)))
    ws.write_config(kit.accounts_config(NAMES, sync={"max_api_share": 0.5}))
    ws.apply()
    for name in NAMES:
        kit.add_members(ws.emu, name, 2)
    hold = _hold_member_reads(ws, kit, times=3)
    proc = ws.popen("sync", "-c", "leadsync.yaml", "--json", "--jobs", "3")
    try:
        kit.until(lambda: _all_taken(ws, hold), "three accounts reading at once", (proc,))
        r = ws.emu.control("salesforce", "POST", "/__emulator/limits", {"used": 600, "total": 1000})
        assert r.status_code < 300, r.text
        ws.emu.clear_faults()
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 3, err
    report = json.loads(out)
    assert report["status"] == "stopped" and "max_api_share 0.5" in report["stop_reason"]
    assert report["totals"]["created"] == 0 and report["totals"]["pending"] == 6
    assert _lead_accounts(ws) == {}


def _json_lines(stderr: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in stderr.splitlines() if line.strip()]
    for line in lines:
        assert {"time", "level", "event", "run_id", "account", "book", "message"} <= set(line)
    return lines


def test_log_format_json_one_object_per_line_with_run_account_and_book(agency) -> None:
    agency.emu.inject_fault(
        "salesforce", method="POST", path_regex="composite/sobjects", status=503, times=1
    )
    proc = agency.run(
        "sync", "-c", "leadsync.yaml", "--json", "--log-format", "json", "--jobs", "2", check=(0,)
    )
    report = json.loads(proc.stdout)  # the report stays on stdout, alone
    lines = _json_lines(proc.stderr)
    assert {line["run_id"] for line in lines} == {report["run_id"]}
    events = [line["event"] for line in lines]
    assert events[0] == "run_started" and events[-1] == "run_finished"
    started = [line["account"] for line in lines if line["event"] == "account_started"]
    assert sorted(started) == NAMES
    finished = {line["account"]: line for line in lines if line["event"] == "account_finished"}
    assert {a: f["totals"]["created"] for a, f in finished.items()} == dict.fromkeys(NAMES, 2)
    retry = next(line for line in lines if line["event"] == "retry")
    assert retry["account"] in NAMES and retry["book"] == "Webinar signups"
    assert "503" in retry["message"]
    assert lines[-1]["status"] == "done" and lines[-1]["totals"]["created"] == 6


def test_log_format_json_errors_and_skips_are_json_lines_too(agency) -> None:
    proc = agency.run("sync", "--log-format", "json", "--account", "east", check=(1,))
    (line,) = _json_lines(proc.stderr)
    assert line["level"] == "error" and line["event"] == "error" and line["code"] == "usage"
    assert "--account east" in line["message"]

    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(agency.root), "west"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        agency.env["LEADSYNC_LOG_FORMAT"] = "json"  # the environment's way to ask for it
        agency.env["LEADSYNC_LOG"] = "warning"
        proc = agency.run("sync", check=(0,))
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    (skip,) = _json_lines(proc.stderr)  # at warning level, only the skip
    assert skip["event"] == "account_skipped_locked" and skip["account"] == "west"
    assert skip["level"] == "warning" and f"pid {holder.pid}" in skip["held_by"]
