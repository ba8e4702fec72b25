"""The end-to-end matrix on every state backend: the same user paths against SQLite and against a
real PostgreSQL server (one throwaway server per pytest worker, a fresh database per test).

Representative paths, not a copy of every e2e test: plan/apply/plan again, stale and
other-serial plans refused, apply refused while another process holds the lock (and free again
once that process is SIGKILLed), sync exactly-once, SIGKILL mid-sync then a re-run. Plus, on
PostgreSQL, four concurrent `leadsync sync` processes on two accounts.

The helpers are those of the sync e2e tests (tests/sync/conftest.py, as the `kit` fixture); only
the config's `state:` block and the state read-back differ per backend.
"""

from __future__ import annotations

import copy
import json
import re
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


class StateBackend:
    """One backend for one test: the config's `state:` block, its env, and a read-back."""

    def __init__(self, name: str, root: Path, kit: Any, pg: Any = None) -> None:
        self.name = name
        self.sqlite_block = kit.SQLITE_BLOCK
        self.root = root
        self.pg = pg

    def config(self, text: str) -> str:
        assert self.sqlite_block in text, "the helpers' config lost the expected state block"
        return text if self.pg is None else text.replace(self.sqlite_block, self.pg.state_yaml())

    def env(self) -> dict[str, str]:
        return {} if self.pg is None else self.pg.env()

    def rows(self, query: str) -> list[tuple]:
        if self.pg is not None:
            return [tuple(r) for r in self.pg.rows(query)]
        con = sqlite3.connect(self.root / ".leadsync" / "state.db")
        try:
            return con.execute(query).fetchall()
        finally:
            con.close()

    def spec(self) -> dict[str, str]:
        """For a helper process that opens the same store."""
        if self.pg is None:
            return {"backend": "sqlite", "path": str(self.root / ".leadsync" / "state.db")}
        return {"backend": "postgres", "dsn": self.pg.dsn, "schema": self.pg.schema}


@pytest.fixture(params=BACKENDS)
def state_backend(request: pytest.FixtureRequest, tmp_path: Path, kit: Any) -> StateBackend:
    if request.param == "sqlite":
        return StateBackend("sqlite", tmp_path, kit)
    return StateBackend("postgres", tmp_path, kit, request.getfixturevalue("pg_database"))


@pytest.fixture
def make_ws(
    tmp_path: Path, emulator_factory: Callable[..., Any], state_backend: StateBackend, kit: Any
) -> Callable[..., Any]:
    def make(seed: dict | None = None, config: str | None = None, apply: bool = True) -> Any:
        ws = kit.Workspace(tmp_path, emulator_factory(seed or kit.BASE_SEED))
        ws.env.update(state_backend.env())
        ws.write_config(state_backend.config(config or kit.config_yaml()))
        if apply:
            ws.apply()
        return ws

    return make


def _status(ws: Any) -> dict[str, Any]:
    proc = ws.run("status", "--json", check=(0,))
    return json.loads(proc.stdout)


# --- plan / apply / stale plan / lock -------------------------------------------------------------


def test_plan_apply_and_stale_plans(make_ws, state_backend) -> None:
    ws = make_ws(apply=False)
    proc = ws.run("plan", "--out", "first.plan", "--detailed-exitcode", check=(2,))
    assert "to create" in proc.stdout
    assert _status(ws)["applied"] is None  # plan applied nothing

    proc = ws.run("apply", "first.plan", check=(0,))
    assert "Apply complete!" in proc.stdout
    assert "No changes." in ws.run("plan", "--detailed-exitcode", check=(0,)).stdout
    assert _status(ws)["applied"]["serial"] == 1

    proc = ws.run("apply", "first.plan", check=(1,))
    assert "saved plan is stale" in proc.stderr

    base = (ws.root / "leadsync.yaml").read_text()
    ws.write_config(base.replace("lead_status: New", "lead_status: Working"))
    ws.run("plan", "--out", "second.plan", check=(0,))
    ws.write_config(base.replace("lead_status: New", 'lead_status: "Closed - Converted"'))
    ws.apply()  # serial 2, behind second.plan's back
    ws.write_config(base.replace("lead_status: New", "lead_status: Working"))
    proc = ws.run("apply", "second.plan", check=(1,))
    assert "made against serial 1, the state is now at serial 2" in proc.stderr
    history = json.loads(ws.run("history", "--json", check=(0,)).stdout)
    assert sorted(h["serial"] for h in history) == [1, 2]
    assert state_backend.rows("SELECT COUNT(*) FROM history") == [(2,)]


HOLDER = r"""
import json, sys
from pathlib import Path
from leadsync.config.model import Secret, StateConfig
from leadsync.state import open_store
spec = json.loads(sys.argv[1])
if spec["backend"] == "sqlite":
    cfg = StateConfig("sqlite", spec["path"])
else:
    cfg = StateConfig("postgres", dsn=Secret(spec["dsn"]), schema=spec["schema"])
store = open_store(cfg, Path("."))
with store.lock(["apply"], timeout=0, purpose="apply"):
    print("locked", flush=True)
    sys.stdin.readline()
"""


def test_apply_is_refused_while_locked_and_free_once_the_holder_is_killed(
    make_ws, state_backend
) -> None:
    ws = make_ws()
    base = (ws.root / "leadsync.yaml").read_text()
    ws.write_config(base.replace("lead_status: New", "lead_status: Working"))
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, json.dumps(state_backend.spec())],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        proc = ws.run("apply", "--auto-approve", "--lock-timeout", "0", check=(1,))
        assert "'apply' is held by" in proc.stderr and f"pid {holder.pid}" in proc.stderr
        assert _status(ws)["applied"]["serial"] == 1
        ws.run("plan", "--detailed-exitcode", check=(2,))  # plan takes no lock
    finally:
        holder.kill()  # SIGKILL: the holder's own cleanup never runs
        holder.communicate()
    # released by the OS (flock) or by the server ending the session (advisory lock)
    ws.run("apply", "--auto-approve", "--lock-timeout", "30", check=(0,))
    assert _status(ws)["applied"]["serial"] == 2


# --- sync -------------------------------------------------------------------------------------


def test_sync_creates_each_lead_exactly_once(make_ws, state_backend, kit) -> None:
    ws = make_ws()
    ws.add_member("ada@example.com", kit.member("Ada", "Lovelace", "Engines"))
    ws.add_member("alan@example.com", kit.member("Alan", "Turing", "Bletchley", "AMER"))
    report = ws.sync(code=(0,))
    assert report["totals"]["created"] == 2 and report["status"] == "done"
    assert ws.sync(code=(0,))["totals"]["seen"] == 0
    ws.add_member("later@example.com", kit.member("Late", "Comer", "After Co"))
    assert ws.sync(code=(0,))["totals"]["created"] == 1
    leads = ws.leads()  # fails on a duplicate email
    assert {"ada@example.com", "alan@example.com", "later@example.com"} <= set(leads)
    assert len(ws.campaign_members()) == 3  # fails on a duplicate member
    states = dict(state_backend.rows("SELECT state, COUNT(*) FROM ledger GROUP BY state"))
    assert states["created"] == 3
    assert state_backend.rows("SELECT COUNT(*) FROM runs") == [(3,)]


KILL_MEMBERS = 250
KILL_POINTS = [  # (write path, service, method, path regex, n-th matching request)
    ("collections", "salesforce", "POST", r"composite/sobjects$", 2),  # 2nd Lead batch
    ("bulk", "salesforce", "PUT", r"jobs/ingest/[^/]+/batches$", 1),  # Lead CSV upload
]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("path", "service", "method", "regex", "nth"),
    KILL_POINTS,
    ids=[p[0] for p in KILL_POINTS],
)
def test_sigkill_mid_sync_then_rerun_is_exact(
    make_ws, state_backend, kit, path, service, method, regex, nth
) -> None:
    """A killed runner's lock is released (by the OS, or by the server ending its session) and
    the re-run leaves exactly one Lead and one CampaignMember per member."""
    sync = {"bulk_threshold": 100} if path == "bulk" else None
    ws = make_ws(config=kit.config_yaml(sync=sync))
    kit.kill_mid_sync(
        ws, members=KILL_MEMBERS, service=service, method=method, regex=regex, nth=nth
    )

    report = ws.sync("--lock-timeout", "30", code=(0,))
    assert report["status"] == "done"
    leads = ws.leads()
    ours = {e for e in leads if re.fullmatch(r"k\d+@example\.com", e)}
    assert ours == {f"k{n}@example.com" for n in range(KILL_MEMBERS)}
    members = ws.campaign_members()
    assert {m["LeadId"] for m in members} == {leads[e]["Id"] for e in ours}
    states = dict(state_backend.rows("SELECT state, COUNT(*) FROM ledger GROUP BY state"))
    assert states.get("created") == KILL_MEMBERS and states.get("pending", 0) == 0
    assert ws.sync(code=(0,))["totals"]["created"] == 0


# --- push (Salesforce -> Dotdigital) ------------------------------------------------------------


def test_push_fills_and_clears_a_book_on_every_backend(make_ws, state_backend, kit) -> None:
    """The push's table and marks live in the state (step 5 of both backends): a Campaign fills
    its book, a member who leaves is removed (clear_address_books: true), a re-run is exact."""
    seed = copy.deepcopy(kit.BASE_SEED)
    seed["dotdigital"]["accounts"][0]["address_books"].append(
        {"name": "Invitees", "contacts": [{"email": "walk-in@example.com"}]}
    )
    records = seed["salesforce"]["records"]
    records["Campaign"].append({"Name": "Customer Day"})
    records["Contact"] += [
        {"FirstName": "Cy", "LastName": "Chen", "Email": "cy@example.com"},
        {"FirstName": "Di", "LastName": "Dunn", "Email": "di@example.com"},
    ]
    config = kit.config_yaml(
        books=[{"name": "Invitees", "campaign": "Customer Day", "push_campaign_members": True}],
        clear=True,
        contact_mapping=[("FirstName", "FIRSTNAME", "salesforce-to-dotdigital")],
    )
    ws = make_ws(seed=seed, config=config)
    sf = ws.emu.salesforce()
    cid = ws.query("SELECT Id FROM Campaign WHERE Name = 'Customer Day'")[0]["Id"]
    members = {
        r["Email"]: sf.CampaignMember.create({"CampaignId": cid, "ContactId": r["Id"]})["id"]
        for r in ws.query("SELECT Id, Email FROM Contact WHERE Email LIKE '%y@example.com'")
        + ws.query("SELECT Id, Email FROM Contact WHERE Email = 'di@example.com'")
    }
    first = ws.sync(code=(0,))
    assert (first["push"][0]["added"], first["push"][0]["removed"]) == (2, 1)
    assert set(ws.members("Invitees")) == {"cy@example.com", "di@example.com"}
    sf.CampaignMember.delete(members["di@example.com"])
    second = ws.sync(code=(0,))
    assert second["push"][0]["removed"] == 1
    assert set(ws.members("Invitees")) == {"cy@example.com"}
    states = dict(state_backend.rows("SELECT state, COUNT(*) FROM push_members GROUP BY state"))
    assert states == {"pushed": 1, "removed": 2}
    assert state_backend.rows("SELECT COUNT(*) FROM push_marks") == [(1,)]
    assert ws.sync(code=(0,))["push"][0]["pushed"] == 0


# --- four runners, two accounts, PostgreSQL state ----------------------------------------------

RUNNERS = 4
PER_ACCOUNT = 120
CONCURRENT_HOLD_MS = 600_000  # released once every runner is in (clear_faults)


def _two_account_seed(kit: Any) -> dict[str, Any]:
    seed = copy.deepcopy(kit.BASE_SEED)
    uk = seed["dotdigital"]["accounts"][0]
    us = copy.deepcopy(uk)
    us.update(name="us", username="apiuser-us@apiconnector.com", password="demo-password-us")
    us["address_books"] = [{"name": "Webinar signups", "contacts": []}]
    seed["dotdigital"]["accounts"].append(us)
    return seed


@pytest.mark.postgres
@pytest.mark.slow
def test_four_runners_on_two_accounts(tmp_path, emulator_factory, pg_database, kit) -> None:
    """No duplicate Lead, both accounts done, and never two runners inside one account: in the
    Dotdigital request log (account = Basic-auth user, run = X-Leadsync-Client), the requests of
    different runs on one account never interleave. One runner is held inside its account lock
    (a delayed request) until all four are inside the lock machinery at once, so the runs do
    overlap in time."""
    backend = StateBackend("postgres", tmp_path, kit, pg_database)
    ws = kit.Workspace(tmp_path, emulator_factory(_two_account_seed(kit)))
    ws.env.update(backend.env())
    ws.write_config(backend.config(kit.accounts_config(["uk", "us"])))
    ws.apply()
    users = {}
    for account in ("uk", "us"):
        users[ws.emu.dd_auth(account)[0]] = account
        r = ws.emu.control(
            "dotdigital",
            "POST",
            f"/__emulator/accounts/{account}/address-books/Webinar signups/generate",
            json={
                "count": PER_ACCOUNT,
                "email": f"{account}{{n}}@example.com",
                "datafields": {
                    "FIRSTNAME": "C{n}",
                    "LASTNAME": "Conc",
                    "COMPANY": "Co",
                    "REGION": "EMEA",
                },
            },
        )
        assert r.status_code == 201, r.text
    ws.emu.reset_log()
    hold = ws.emu.inject_fault(
        "dotdigital",
        method="GET",
        path_regex=r"^/contacts/v3",
        delay_ms=CONCURRENT_HOLD_MS,
        times=1,
    )

    procs = [
        ws.popen("sync", "-c", "leadsync.yaml", "--json", "--lock-timeout", "600")
        for _ in range(RUNNERS)
    ]
    try:
        kit.until(
            lambda: kit.fault_taken(ws.emu, "dotdigital", hold),
            "one runner held inside its account lock",
            tuple(procs),
        )
        sessions = (
            "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name LIKE 'leadsync sync%'"
        )
        kit.until(
            lambda: pg_database.rows(sessions)[0][0] >= RUNNERS,
            "all runners holding or waiting for an account lock at once",
            tuple(procs),
        )
        ws.emu.clear_faults("dotdigital")  # now let the held runner go on
        outputs = [p.communicate(timeout=300) for p in procs]
    finally:
        kit.kill_running(*procs)

    reports = []
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, (proc.returncode, out[-2000:], err[-2000:])
        assert "Traceback" not in err, err
        reports.append(json.loads(out))
    assert all(r["status"] == "done" for r in reports)
    created = {"uk": 0, "us": 0}
    for report in reports:
        for book in report["books"]:
            created[book["account"]] += book["created"]
    assert created == {"uk": PER_ACCOUNT, "us": PER_ACCOUNT}

    leads = ws.leads()  # fails on any duplicate email
    for account in ("uk", "us"):
        ours = {e for e in leads if re.fullmatch(rf"{account}\d+@example\.com", e)}
        assert len(ours) == PER_ACCOUNT, account
    assert len(ws.campaign_members()) == 2 * PER_ACCOUNT  # fails on any duplicate member

    log = ws.emu.requests_log("dotdigital")["requests"]
    runs: dict[str, list[str]] = {"uk": [], "us": []}
    for entry in log:
        runs[users[entry["user"]]].append(entry["client"])
    for account, clients in runs.items():
        blocks = [c for i, c in enumerate(clients) if i == 0 or clients[i - 1] != c]
        assert len(blocks) == len(set(blocks)), f"runs interleaved on {account}: {blocks}"
        assert len(blocks) == RUNNERS, f"{account}: expected one block per runner: {blocks}"
    states = dict(backend.rows("SELECT state, COUNT(*) FROM ledger GROUP BY state"))
    assert states.get("created") == 2 * PER_ACCOUNT and states.get("pending", 0) == 0
    assert backend.rows("SELECT COUNT(*) FROM lock_holders") == [(0,)]
