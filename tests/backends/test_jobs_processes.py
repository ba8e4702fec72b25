"""`sync --jobs N` runs its accounts in worker processes (sync/workers.py): what an operator
checks. The runner's process tree holds N workers while N accounts are in flight; the report
is the one `--jobs 1` gives; SIGTERM to the runner stops every worker at its next checkpoint
and the runner exits as a stopped run; a worker killed -9 fails the run (exit 1, no hang) and
the next run converges. Real emulators, SQLite and PostgreSQL states."""

from __future__ import annotations

import contextlib
import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest

NAMES = [f"b{n:02d}" for n in range(1, 7)]
PER_ACCOUNT = 3
JOBS = 4
WRITE = r"composite/sobjects$"  # a Lead write of a few members (sObject Collections)
NO_CAMPAIGN = [{"name": "Webinar signups", "create_leads": True}]


def _workspace(kit: Any, root: Path, emu: Any, pg: Any = None, **options: Any) -> Any:
    root.mkdir(parents=True, exist_ok=True)
    ws = kit.Workspace(root, emu)
    text = kit.accounts_config(NAMES, **options)
    if pg is not None:
        ws.env.update(pg.env())
        text = text.replace(kit.SQLITE_BLOCK, pg.state_yaml())
    ws.write_config(text)
    ws.apply()
    for name in NAMES:
        kit.add_members(emu, name, PER_ACCOUNT)
    return ws


def _workers(runner: int) -> list[int]:
    """The runner's worker processes, as `ps` shows them: descendants named leadsync-worker
    (its children, or a forkserver's when a thread ran at start)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and _alive(int(entry)):
            with contextlib.suppress(OSError):
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry))
    found, todo = [], list(children.get(runner, []))
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/comm").read_text().strip() == "leadsync-worker":
                found.append(pid)
    return sorted(found)


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _hold_in_flight(
    kit: Any, ws: Any, service: str, method: str, regex: str, *, as_json: bool = True
) -> tuple[Any, Any]:
    """Start `sync --jobs 4` and return once four accounts are each inside the held request
    (the emulator holds each until clear_faults)."""
    hold = ws.emu.inject_fault(service, method=method, path_regex=regex, delay_ms=600_000, times=4)
    json_flag = ["--json"] if as_json else []
    proc = ws.popen("sync", "-c", "leadsync.yaml", *json_flag, "--jobs", str(JOBS))
    try:
        kit.until(lambda: kit.fault_taken(ws.emu, service, hold), "four accounts at once", (proc,))
    except BaseException:
        kit.kill_running(proc)
        raise
    return proc, hold


def _comparable(report: dict[str, Any]) -> dict[str, Any]:
    """A report without what differs between any two runs (ids, times: the books'
    watermarks are the server's clock) and the jobs asked."""
    out = {
        k: v
        for k, v in report.items()
        if k not in ("run_id", "lineage", "started_at", "ended_at", "jobs", "_stderr", "_exit")
    }
    out["books"] = [{k: v for k, v in b.items() if k != "watermark"} for b in out["books"]]
    return out


def _assert_converged(ws: Any, rows: Any) -> None:
    leads = ws.leads()  # fails on any duplicate email
    for name in NAMES:
        ours = {e for e in leads if e.startswith(f"{name}-")}
        assert ours == {f"{name}-{n}@example.com" for n in range(PER_ACCOUNT)}, name
    assert dict(rows("SELECT state, COUNT(*) FROM ledger GROUP BY state")) == {
        "created": len(NAMES) * PER_ACCOUNT
    }
    assert rows("SELECT COUNT(*) FROM ledger WHERE attempt IS NOT NULL") == [(0,)]


def test_jobs_4_in_worker_processes_reports_exactly_what_jobs_1_reports(
    tmp_path, emulator_factory, kit
) -> None:
    """Two identical orgs and agencies (one account also has a member who is an existing
    Lead): --jobs 1 in one process, --jobs 4 with four worker processes provably in flight.
    The JSON reports are equal but for the run's id, times and jobs: tallies, errors, updates,
    API calls of both systems; and so are the Leads."""
    reports, leads = {}, {}
    for jobs in (1, JOBS):
        ws = _workspace(kit, tmp_path / f"jobs{jobs}", emulator_factory(kit.accounts_seed(NAMES)))
        grace = kit.member("Grace", "Hopper", "Navy", "AMER")  # in one account only: in
        ws.add_member("grace@example.com", grace, account=NAMES[0])  # several, who adds her
        # to the campaign would depend on which account gets there first
        ws.emu.reset_log()
        if jobs == 1:
            report = ws.sync("--jobs", "1", code=(0,))
        else:
            proc, _ = _hold_in_flight(kit, ws, "dotdigital", "GET", r"^/contacts/v3")
            try:
                workers = _workers(proc.pid)
                assert len(workers) == JOBS, workers  # one process per account in flight
                ws.emu.clear_faults("dotdigital")
                out, err = proc.communicate(timeout=300)
            finally:
                kit.kill_running(proc)
            assert proc.returncode == 0, err
            assert not any(_alive(w) for w in workers)  # every worker reaped
            report = json.loads(out)
        assert report["api_calls"]["salesforce"] == len(
            ws.emu.requests_log("salesforce")["requests"]
        )
        reports[jobs] = report
        leads[jobs] = sorted(
            tuple(sorted((k, v) for k, v in lead.items() if k not in ("Id", "attributes")))
            for lead in ws.leads().values()
        )
    assert reports[JOBS]["jobs"] == JOBS and reports[1]["jobs"] == 1
    assert _comparable(reports[JOBS]) == _comparable(reports[1])
    assert reports[1]["totals"]["created"] == len(NAMES) * PER_ACCOUNT
    assert reports[1]["totals"]["excluded_existing"] == 1
    assert leads[JOBS] == leads[1] and len(leads[1]) == len(NAMES) * PER_ACCOUNT + 1


@pytest.mark.postgres
@pytest.mark.slow
def test_sigterm_to_the_runner_stops_every_worker_and_the_rerun_converges(
    tmp_path, emulator_factory, pg_database, kit
) -> None:
    """SIGTERM reaches the runner while four worker processes each wait on a Lead write: each
    write completes and is recorded, every worker stops at its next checkpoint and ends, the
    runner exits 0 as a stopped ("interrupted") run, nothing in doubt. The next run does the
    rest: every Lead once."""
    ws = _workspace(
        kit, tmp_path, emulator_factory(kit.accounts_seed(NAMES)), pg_database, books=NO_CAMPAIGN
    )
    proc, _ = _hold_in_flight(kit, ws, "salesforce", "POST", WRITE)
    try:
        workers = _workers(proc.pid)
        assert len(workers) == JOBS, workers
        os.kill(proc.pid, signal.SIGTERM)
        seen = ""
        while "SIGTERM: finishing the batch in flight" not in seen:  # the runner has it
            line = proc.stderr.readline()
            assert line, seen
            seen += line
        ws.emu.clear_faults("salesforce")
        out, err = proc.communicate(timeout=300)
        err = seen + err
    finally:
        kit.kill_running(proc)
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
    assert not any(_alive(w) for w in workers)
    report = json.loads(out)
    assert report["status"] == "interrupted" and "SIGTERM" in report["stop_reason"]
    created = report["totals"]["created"]
    assert created == JOBS * PER_ACCOUNT  # the four writes in flight, recorded
    assert len([e for e in ws.leads() if e.startswith("b")]) == created  # + Grace, seeded
    assert pg_database.rows("SELECT COUNT(*) FROM ledger WHERE attempt IS NOT NULL") == [(0,)]
    assert pg_database.rows("SELECT COUNT(*) FROM lock_holders") == [(0,)]

    rerun = ws.sync("--jobs", str(JOBS), code=(0,))
    assert rerun["status"] == "done"
    assert rerun["totals"]["created"] == (len(NAMES) - JOBS) * PER_ACCOUNT
    _assert_converged(ws, pg_database.rows)


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_a_worker_killed_9_fails_the_run_without_hanging_and_the_rerun_converges(
    tmp_path, emulator_factory, request, kit, backend
) -> None:
    """One worker process is SIGKILLed while the server holds its Lead write (which the server
    then completes: Leads its client never heard of). The runner reports that account's
    worker lost and exits 1 once the other workers have recorded their writes and stopped;
    the next run settles the lost write from Salesforce: every Lead once, nothing in doubt."""
    pg = request.getfixturevalue("pg_database") if backend == "postgres" else None
    ws = _workspace(
        kit, tmp_path, emulator_factory(kit.accounts_seed(NAMES)), pg, books=NO_CAMPAIGN
    )
    rows = pg.rows if pg is not None else ws.state_rows
    proc, _ = _hold_in_flight(kit, ws, "salesforce", "POST", WRITE)
    try:
        workers = _workers(proc.pid)
        assert len(workers) == JOBS, workers
        os.kill(workers[0], signal.SIGKILL)
        ws.emu.clear_faults("salesforce")
        out, err = proc.communicate(timeout=300)
    finally:
        kit.kill_running(proc)
    assert proc.returncode == 1, (out, err)
    assert "Traceback" not in err, err
    assert not any(_alive(w) for w in workers)
    doc = json.loads(out)
    assert doc["status"] == "error" and "its worker process" in doc["message"], doc
    assert f"(pid {workers[0]})" in doc["message"] and "killed by SIGKILL" in doc["message"]
    _await_held_writes(ws, kit)  # the server finishes the writes its client never saw
    assert rows("SELECT COUNT(*) FROM ledger WHERE attempt IS NOT NULL") != [(0,)]  # in doubt

    rerun = ws.sync("--jobs", str(JOBS), code=(0,))
    assert rerun["status"] == "done"
    _assert_converged(ws, rows)


def _ppid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def test_with_a_thread_running_the_workers_come_from_a_forkserver_that_ends_with_the_run(
    tmp_path, emulator_factory, kit
) -> None:
    """At a terminal the progress bar refreshes on a thread of its own, so the runner must
    not fork itself: its workers are forked by a forkserver (their parent), which ends with
    the run. The run is the same: every Lead once, exit 0."""
    ws = _workspace(kit, tmp_path, emulator_factory(kit.accounts_seed(NAMES)))
    ws.env["FORCE_COLOR"] = "1"  # a terminal as rich sees one: the progress bar runs
    proc, _ = _hold_in_flight(kit, ws, "dotdigital", "GET", r"^/contacts/v3", as_json=False)
    try:
        workers = _workers(proc.pid)
        assert len(workers) == JOBS, workers
        (server,) = {_ppid(w) for w in workers}
        assert server != proc.pid and _ppid(server) == proc.pid
        ws.emu.clear_faults("dotdigital")
        out, err = proc.communicate(timeout=300)
    finally:
        kit.kill_running(proc)
    assert proc.returncode == 0, err
    assert not any(_alive(p) for p in [*workers, server])
    assert "API calls: Salesforce" in out  # the text report
    _assert_converged(ws, ws.state_rows)


def test_the_runner_killed_9_takes_its_workers_with_it_and_the_rerun_converges(
    tmp_path, emulator_factory, kit
) -> None:
    """SIGKILL to the runner (no chance to tell anyone) while four workers wait on their Lead
    writes: the workers die with it (no orphan keeps writing or holding a lock), the server
    still completes the writes; the next run settles them from Salesforce: every Lead once."""
    ws = _workspace(kit, tmp_path, emulator_factory(kit.accounts_seed(NAMES)), books=NO_CAMPAIGN)
    proc, _ = _hold_in_flight(kit, ws, "salesforce", "POST", WRITE)
    try:
        workers = _workers(proc.pid)
        assert len(workers) == JOBS, workers
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=300)
        kit.until(lambda: not any(_alive(w) for w in workers), "the workers to die with it")
    finally:
        kit.kill_running(proc)
    ws.emu.clear_faults("salesforce")
    _await_held_writes(ws, kit)
    rerun = ws.sync("--jobs", str(JOBS), code=(0,))
    assert rerun["status"] == "done"
    _assert_converged(ws, ws.state_rows)


def _await_held_writes(ws: Any, kit: Any) -> None:
    """Until the emulator has taken every worker's held Lead write (one per job)."""

    def taken() -> bool:
        log = ws.emu.requests_log("salesforce")["requests"]
        posts = [r for r in log if r["method"] == "POST"]
        return sum(r["path"].endswith("composite/sobjects") for r in posts) >= JOBS

    kit.until(taken, "the held writes to complete")
