"""Scale-out on PostgreSQL, the state teams share between runners: twelve Dotdigital accounts
against one Salesforce org, three `leadsync sync --shard K/3` runners started together (as a
Kubernetes Indexed Job or a CI matrix starts them), one of them killed mid-run and its shard run
again, and `--jobs 4` against `--jobs 1`.

What a user checks: every account synced by exactly one runner per round (the reports say which
accounts each runner took; the Dotdigital request log shows one client per account and round,
X-Leadsync-Client), no Lead twice, the reports'
counts adding up to the Leads in Salesforce, and the state converged (nothing pending or in
doubt, no lock holder left).
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest

NAMES = [f"a{n:02d}" for n in range(1, 13)]
PER_ACCOUNT = 3
SHARDS = 3
NO_CAMPAIGN = [{"name": "Webinar signups", "create_leads": True}]

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _workspace(
    kit: Any, root: Path, emu: Any, pg: Any, *, schema: str = "leadsync", **options: Any
) -> Any:
    """Twelve accounts on the PostgreSQL state `schema`, applied, PER_ACCOUNT new members each."""
    root.mkdir(parents=True, exist_ok=True)
    ws = kit.Workspace(root, emu)
    ws.env.update(pg.env())
    state = pg.state_yaml().replace("schema: leadsync", f"schema: {schema}")
    ws.write_config(kit.accounts_config(NAMES, **options).replace(kit.SQLITE_BLOCK, state))
    ws.apply()
    for name in NAMES:
        kit.add_members(emu, name, PER_ACCOUNT)
    return ws


def _shard_of(name: str) -> int:
    from leadsync.sync.shard import shard_of

    return shard_of(name, SHARDS)


def _start_shards(ws: Any, shards: range = range(SHARDS)) -> dict[int, Any]:
    return {
        k: ws.popen("sync", "-c", "leadsync.yaml", "--json", "--shard", f"{k}/{SHARDS}")
        for k in shards
    }


def _finish(procs: dict[int, Any]) -> dict[int, dict[str, Any]]:
    reports = {}
    try:
        for k, proc in procs.items():
            out, err = proc.communicate(timeout=300)
            assert proc.returncode == 0, (k, proc.returncode, out[-2000:], err[-2000:])
            assert "Traceback" not in err, err
            reports[k] = json.loads(out)
    finally:
        _kill_all(procs)
    return reports


def _kill_all(procs: dict[int, Any]) -> None:
    for proc in procs.values():
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def _created(report: dict[str, Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for book in report["books"]:
        out[book["account"]] = out.get(book["account"], 0) + book["created"]
    return out


def _runners_by_account(ws: Any) -> dict[str, set[str]]:
    """Account -> the Dotdigital clients (X-Leadsync-Client ids) that sent its requests: a run
    makes one client per account, so two ids would mean two runs read the account."""
    users = {ws.emu.dd_auth(name)[0]: name for name in NAMES}
    out: dict[str, set[str]] = {name: set() for name in NAMES}
    for entry in ws.emu.requests_log("dotdigital")["requests"]:
        if entry.get("user") in users:
            out[users[entry["user"]]].add(entry["client"])
    return out


def _assert_converged(ws: Any, pg: Any) -> dict[str, Any]:
    leads = ws.leads()  # fails on any duplicate email
    for name in NAMES:
        ours = {e for e in leads if e.startswith(f"{name}-")}
        assert ours == {f"{name}-{n}@example.com" for n in range(PER_ACCOUNT)}, name
    states = dict(pg.rows("SELECT state, COUNT(*) FROM ledger GROUP BY state"))
    assert states == {"created": len(NAMES) * PER_ACCOUNT}, states
    assert pg.rows("SELECT COUNT(*) FROM ledger WHERE attempt IS NOT NULL") == [(0,)]
    assert pg.rows("SELECT COUNT(*) FROM lock_holders") == [(0,)]
    return leads


def test_three_shard_runners_sync_every_account_exactly_once(
    tmp_path, emulator_factory, pg_database, kit
) -> None:
    ws = _workspace(kit, tmp_path, emulator_factory(kit.accounts_seed(NAMES)), pg_database)
    ws.emu.reset_log()
    # Each runner's first member read is held until all three runners are inside one: the three
    # runs overlap, whatever the machine's load.
    hold = ws.emu.inject_fault(
        "dotdigital", method="GET", path_regex=r"^/contacts/v3", delay_ms=600_000, times=SHARDS
    )
    procs = _start_shards(ws)
    try:
        kit.until(
            lambda: kit.fault_taken(ws.emu, "dotdigital", hold),
            "three runners at once",
            tuple(procs.values()),
        )
        ws.emu.clear_faults("dotdigital")
    except BaseException:
        _kill_all(procs)
        raise
    reports = _finish(procs)

    synced = [name for k in range(SHARDS) for name in reports[k]["accounts"]]
    assert sorted(synced) == NAMES  # each account once, by one runner
    for k, report in reports.items():
        assert report["shard"] == f"{k}/{SHARDS}" and report["status"] == "done"
        assert report["accounts"] == [n for n in NAMES if _shard_of(n) == k]
        assert report["skipped_locked"] == []
    runners = _runners_by_account(ws)
    assert all(len(clients) == 1 for clients in runners.values()), runners
    created: dict[str, int] = {}
    for report in reports.values():  # the reports add up
        assert report["totals"]["created"] == sum(_created(report).values())
        created.update(_created(report))
    assert created == dict.fromkeys(NAMES, PER_ACCOUNT)
    assert sum(r["totals"]["created"] for r in reports.values()) == len(NAMES) * PER_ACCOUNT
    _assert_converged(ws, pg_database)
    assert len(ws.campaign_members()) == len(NAMES) * PER_ACCOUNT  # no member twice

    # The next round: the same split, nothing new to write.
    ws.emu.reset_log()
    again = _finish(_start_shards(ws))
    assert sorted(n for r in again.values() for n in r["accounts"]) == NAMES
    assert all(r["totals"]["created"] == 0 for r in again.values())
    assert all(len(c) == 1 for c in _runners_by_account(ws).values())


def test_a_runner_killed_mid_run_converges_when_its_shard_runs_again(
    tmp_path, emulator_factory, pg_database, kit
) -> None:
    """Shard 0's runner is held in its first account's member read while the other two runners
    finish; then it creates the first account's Leads and is SIGKILLed while the server holds
    its second account's Lead write (which the server then completes: Leads its client never
    heard of). Running shard 0 again settles those from Salesforce, syncs the rest, and the
    whole org ends with one Lead per member."""
    ws = _workspace(
        kit, tmp_path, emulator_factory(kit.accounts_seed(NAMES)), pg_database, books=NO_CAMPAIGN
    )
    mine = [n for n in NAMES if _shard_of(n) == 0]
    assert len(mine) >= 3  # a first account done, a second cut, more not started
    first_book = ws.book_id("Webinar signups", account=mine[0])
    held_read = ws.emu.inject_fault(
        "dotdigital",
        method="GET",
        path_regex=r"^/contacts/v3",
        query_regex=rf"~listId={first_book}(&|$)",
        delay_ms=600_000,
        times=1,
    )
    procs = _start_shards(ws)
    try:
        kit.until(
            lambda: kit.fault_taken(ws.emu, "dotdigital", held_read), "shard 0 held", (procs[0],)
        )
        others = _finish({k: procs[k] for k in (1, 2)})
        # Now shard 0 alone writes: its first Lead write passes, the second is held.
        ws.emu.inject_fault(
            "salesforce", method="POST", path_regex=r"composite/sobjects$", delay_ms=1, times=1
        )
        held_write = ws.emu.inject_fault(
            "salesforce",
            method="POST",
            path_regex=r"composite/sobjects$",
            delay_ms=600_000,
            times=1,
        )
        ws.emu.clear_faults("dotdigital")
        kit.until(
            lambda: kit.fault_taken(ws.emu, "salesforce", held_write),
            "shard 0's 2nd write",
            (procs[0],),
        )
        holders = pg_database.rows("SELECT name, pid FROM lock_holders")
        assert holders == [(f"account:{mine[1]}", procs[0].pid)]  # inside its second account
        os.kill(procs[0].pid, signal.SIGKILL)
        procs[0].communicate()
    finally:
        _kill_all(procs)
    ws.emu.clear_faults("salesforce")  # the server finishes the write its client never saw
    kit.until(
        lambda: all(f"{mine[1]}-{n}@example.com" in ws.leads() for n in range(PER_ACCOUNT)),
        "the held write to complete",
    )

    rerun = _finish(_start_shards(ws, range(1)))[0]
    assert rerun["status"] == "done" and rerun["accounts"] == mine
    done_before = sum(_created(r).get(n, 0) for r in others.values() for n in NAMES)
    assert done_before == (len(NAMES) - len(mine)) * PER_ACCOUNT
    # the killed run created the first account's Leads; the re-run settles the second's
    # (in doubt) and creates the rest
    assert _created(rerun) == {n: 0 if n == mine[0] else PER_ACCOUNT for n in mine}
    _assert_converged(ws, pg_database)
    final = _finish(_start_shards(ws))
    assert all(r["totals"]["created"] == 0 and r["totals"]["seen"] == 0 for r in final.values())


def _outcome(ws: Any, pg: Any, schema: str) -> tuple[list[tuple], list[tuple], int]:
    """What a user compares: the Leads (no Ids: two orgs number them apart), every member's
    ledger state and reason, and how many CampaignMembers there are."""
    leads = sorted(
        tuple(sorted((k, v) for k, v in lead.items() if k not in ("Id", "attributes")))
        for lead in ws.leads().values()
    )
    ledger = pg.rows(
        f'SELECT account, email, state, reason_code FROM "{schema}".ledger ORDER BY account, email'
    )
    return leads, [tuple(r) for r in ledger], len(ws.campaign_members())


def test_jobs_4_gives_the_same_leads_as_jobs_1(
    tmp_path, emulator_factory, pg_database, kit
) -> None:
    """Two identical orgs and agencies, one synced with --jobs 1, the other with --jobs 4 (four
    accounts provably in flight at once, in one process, each under its own lock): the same
    Leads, ledger outcomes and campaign members. Each account also has a member who is an
    existing Lead (excluded) and one without the required Region (skipped)."""
    outcomes = {}
    for jobs in (1, 4):
        schema = f"jobs{jobs}"
        ws = _workspace(
            kit,
            tmp_path / schema,
            emulator_factory(kit.accounts_seed(NAMES)),
            pg_database,
            schema=schema,
        )
        for name in NAMES:
            grace = kit.member("Grace", "Hopper", "Navy", "AMER")
            ws.add_member("grace@example.com", grace, account=name)
            no_region = {"FIRSTNAME": "No", "LASTNAME": "Region"}
            ws.add_member(f"{name}-noregion@example.com", no_region, account=name)
        # exit 4: records skipped for their data (the members without a Region)
        report = (
            ws.sync("--jobs", "1", code=(4,)) if jobs == 1 else _four_at_once(kit, ws, pg_database)
        )
        assert report["jobs"] == jobs and report["accounts"] == NAMES
        totals = report["totals"]
        assert (
            totals["created"],
            totals["excluded_existing"],
            totals["skipped_missing_fields"],
        ) == (
            len(NAMES) * PER_ACCOUNT,
            len(NAMES),
            len(NAMES),
        )
        outcomes[jobs] = _outcome(ws, pg_database, schema)
    assert outcomes[4] == outcomes[1]
    leads, ledger, members = outcomes[4]
    assert len(ledger) == len(NAMES) * (PER_ACCOUNT + 2)
    assert len(leads) == len(NAMES) * PER_ACCOUNT + 1  # + Grace, who was there before
    assert members == len(NAMES) * PER_ACCOUNT + 1  # the new Leads, and Grace joins the campaign


def _four_at_once(kit: Any, ws: Any, pg: Any) -> dict[str, Any]:
    hold = ws.emu.inject_fault(
        "dotdigital", method="GET", path_regex=r"^/contacts/v3", delay_ms=600_000, times=4
    )
    proc = ws.popen("sync", "-c", "leadsync.yaml", "--json", "--jobs", "4")
    try:
        kit.until(
            lambda: kit.fault_taken(ws.emu, "dotdigital", hold), "four accounts at once", (proc,)
        )
        holders = pg.rows('SELECT name, pid FROM "jobs4".lock_holders')
        assert len(holders) == 4 and {pid for _, pid in holders} == {proc.pid}
        ws.emu.clear_faults("dotdigital")
        out, err = proc.communicate(timeout=300)
    finally:
        kit.kill_running(proc)
    assert proc.returncode == 4, err
    return json.loads(out)
