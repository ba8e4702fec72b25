"""plan / apply / status / history end to end: the real CLI as a subprocess against the emulators.

Every error case asserts the diagnostic code, the file:line it points at, and that the state
file was not written (not created, or byte-identical).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

import jsonschema
import pytest
import requests

from leadsync import cli
from leadsync.config.model import StateConfig
from leadsync.state import open_store

ROOT = Path(__file__).resolve().parents[2]
LEADSYNC = str(Path(sys.executable).with_name("leadsync"))
BOOK = "Webinar signups"
CAMPAIGN = "Spring Webinar 2026"

STD_ROWS = [
    ("FirstName", "FIRSTNAME", "two-way"),
    ("LastName", "LASTNAME", "dotdigital-to-salesforce"),
    ("Company", "COMPANY", "two-way"),
    ("Region__c", "REGION", "dotdigital-to-salesforce"),
]


def config_yaml(
    *,
    rows: list[tuple[str, str, str]] | None = None,
    books: list[dict] | None = None,
    lead_status: str = "New",
    member_status: str = "Sent",
    create_missing: bool = False,
    comment: str = "",
) -> str:
    rows = STD_ROWS if rows is None else rows
    books = [{"name": BOOK, "create_leads": True, "campaign": CAMPAIGN}] if books is None else books
    lines = [
        "version: 1",
        "state:",
        "  backend: sqlite",
        "  path: .leadsync/state.db",
        "salesforce:",
        "  instance_url: ${SF_INSTANCE_URL}",
        "  auth:",
        "    access_token: ${SF_ACCESS_TOKEN}",
        "  ca_bundle: ${SF_CA_BUNDLE}",
        '  api_version: "61.0"',
        "defaults:",
        f"  lead_status: {lead_status}",
        f"  campaign_member_status: {member_status}",
        "accounts:",
        "  uk:",
        "    dotdigital:",
        "      endpoint: ${DD_UK_ENDPOINT}",
        "      username: ${DD_UK_USERNAME}",
        "      password: ${DD_UK_PASSWORD}",
        "    clear_address_books: false",
        f"    create_missing_datafields: {'true' if create_missing else 'false'}",
        "    lead_mapping:",
        *(f"      - {{salesforce: {s}, datafield: {d}, direction: {r}}}" for s, d, r in rows),
        "    address_books:",
    ]
    for b in books:
        lines.append(f"      - name: {b['name']}")
        lines.append(f"        create_leads: {'true' if b.get('create_leads') else 'false'}")
        if b.get("campaign"):
            lines.append(f"        campaign: {b['campaign']}")
        if b.get("backfill"):
            lines.append("        backfill: true")
    if comment:
        lines.append(f"# {comment}")
    return "\n".join(lines) + "\n"


def line_of(text: str, needle: str) -> int:
    for i, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return i
    raise AssertionError(f"{needle!r} not in config")


class Workspace:
    def __init__(self, path: Path, emu, text: str | None = None, env: dict | None = None) -> None:
        self.path = path
        self.emu = emu
        self.env = {**os.environ, **emu.env(), **(env or {})}
        self.env.pop("REQUESTS_CA_BUNDLE", None)
        self.write(text if text is not None else config_yaml())

    @property
    def config(self) -> Path:
        return self.path / "leadsync.yaml"

    @property
    def state(self) -> Path:
        return self.path / ".leadsync" / "state.db"

    def write(self, text: str) -> None:
        self.text = text
        self.config.write_text(text)

    def run(self, *args: str, input: str | None = None, env: dict | None = None, sub: bool = False):
        """The CLI in-process (fast: real HTTP, real SQLite, only no new interpreter), or as a
        real subprocess with sub=True (what a user runs; used by the must-pass scenarios)."""
        if not sub:
            return self._run_here(args, {**self.env, **(env or {})})
        proc = subprocess.run(
            [LEADSYNC, *args],
            cwd=self.path,
            env={**self.env, **(env or {})},
            input=input if input is not None else "",
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert "Traceback" not in proc.stderr, proc.stderr
        return proc

    def _run_here(self, args, env) -> subprocess.CompletedProcess:
        out, err = io.StringIO(), io.StringIO()
        old_cwd = os.getcwd()
        code = 0
        with mock.patch.dict(os.environ, env, clear=True):
            os.chdir(self.path)
            try:
                with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                    cli.main(list(args))
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            finally:
                os.chdir(old_cwd)
        return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())

    def state_bytes(self) -> bytes | None:
        return self.state.read_bytes() if self.state.exists() else None

    def store(self):
        return open_store(StateConfig("sqlite", ".leadsync/state.db"), self.path)


@pytest.fixture
def ws(tmp_path, emulator):
    return Workspace(tmp_path, emulator)


def _apply_ok(ws: Workspace, *args: str) -> subprocess.CompletedProcess:
    proc = ws.run("apply", "--auto-approve", *args)
    assert proc.returncode == 0, proc.stderr
    return proc


def _only_reads(emu) -> None:
    for service in ("dotdigital", "salesforce"):
        methods = {r["method"] for r in emu.requests_log(service)["requests"]}
        assert methods <= {"GET"}, (service, methods)


# --- the main path ----------------------------------------------------------------------------


def test_plan_save_apply_then_plan_again_shows_no_changes(ws, emulator):
    emulator.reset_log()
    proc = ws.run("plan", "--out", "p.plan", "--detailed-exitcode", sub=True)
    assert proc.returncode == 2, proc.stderr
    assert "Plan: 9 to create, 0 to update, 0 to delete." in proc.stdout
    assert f'account.uk.address_book["{BOOK}"]' in proc.stdout
    assert not ws.state.exists() and not (ws.path / ".leadsync").exists()  # plan wrote nothing
    _only_reads(emulator)
    assert oct((ws.path / "p.plan").stat().st_mode & 0o777) == "0o600"

    proc = ws.run("apply", "p.plan", sub=True)
    assert proc.returncode == 0, proc.stderr
    assert "Apply complete! 9 created" in proc.stdout
    assert "6 current members recorded as the baseline" in proc.stdout

    proc = ws.run("plan", "--detailed-exitcode", sub=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No changes." in proc.stdout

    status = json.loads(ws.run("status", "--json").stdout)
    assert status["applied"]["serial"] == 1 and status["config_differs"] is False
    history = json.loads(ws.run("history", "--json").stdout)
    assert [h["serial"] for h in history] == [1]
    assert history[0]["summary"]["create"] == 9 and history[0]["host"]

    # apply without changes writes nothing
    before = ws.state_bytes()
    assert "No changes" in _apply_ok(ws).stdout
    assert ws.state_bytes() == before


def test_apply_records_what_the_sync_needs(ws, emulator):
    _apply_ok(ws)
    store = ws.store()
    try:
        applied = store.read_applied()
        book = applied.resolved["accounts"]["uk"]["books"][0]
        assert book["name"] == BOOK and book["create_leads"] and not book["backfill"]
        assert book["campaign_id"].startswith("701") and book["campaign_name"] == CAMPAIGN
        assert applied.resolved["accounts"]["uk"]["datafields"]["REGION"] == "String"
        assert applied.resolved["salesforce_schema"]["lead_status"] == "New"
        assert "Region__c" in applied.resolved["salesforce_schema"]["lead_required_fields"]
        baseline = list(store.ledger_iter("uk", book["id"], ["baseline"]))
        assert len(baseline) == 6
        assert "grace@example.com" in {e.email for e in baseline}
        assert store.watermark("uk", book["id"]) is not None
        assert applied.config["accounts"]["uk"]["lead_mapping"]  # the config snapshot
    finally:
        store.close()


def test_backfill_book_gets_no_baseline(tmp_path, emulator):
    ws = Workspace(
        tmp_path,
        emulator,
        config_yaml(books=[{"name": BOOK, "create_leads": True, "backfill": True}]),
    )
    proc = _apply_ok(ws)
    assert "baseline" not in proc.stdout
    store = ws.store()
    try:
        book = store.read_applied().resolved["accounts"]["uk"]["books"][0]
        assert book["backfill"] is True
        assert list(store.ledger_iter("uk", book["id"], ["baseline"])) == []
        assert store.watermark("uk", book["id"]) is None
    finally:
        store.close()


def test_plan_writes_nothing_after_apply_and_status_sees_the_edit(ws, emulator):
    _apply_ok(ws)
    before = ws.state_bytes()
    files = sorted(p.name for p in ws.state.parent.iterdir())
    ws.write(config_yaml(lead_status="Working"))
    emulator.reset_log()
    for args in (["plan"], ["plan", "--json"], ["plan", "--markdown"], ["status"], ["history"]):
        proc = ws.run(*args)
        assert proc.returncode == 0, proc.stderr
    _only_reads(emulator)
    assert ws.state_bytes() == before
    assert sorted(p.name for p in ws.state.parent.iterdir()) == files
    proc = ws.run("plan", "--detailed-exitcode")
    assert proc.returncode == 2
    assert '~ lead_status            = "New" -> "Working"' in proc.stdout
    assert "Plan: 0 to create, 1 to update, 0 to delete." in proc.stdout
    status = ws.run("status").stdout
    assert "differs from the applied config in: defaults.lead_status" in status


def test_json_plan_matches_the_shipped_schema(ws, emulator):
    schema = json.loads((ROOT / "schema" / "plan.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    first = ws.run("plan", "--json", "--out", "p.plan")
    assert first.returncode == 0, first.stderr
    jsonschema.validate(json.loads(first.stdout), schema)
    jsonschema.validate(json.loads((ws.path / "p.plan").read_text()), schema)
    _apply_ok(ws)
    ws.write(config_yaml(rows=[*STD_ROWS[:3], ("Region__c", "REGION", "two-way")]))
    data = json.loads(ws.run("plan", "--json").stdout)
    jsonschema.validate(data, schema)
    assert data["format_version"] == "1.0" and data["prior_state"]["serial"] == 1
    changed = [c for c in data["resource_changes"] if c["action"] != "no-op"]
    assert [c["address"] for c in changed] == ['account.uk.lead_mapping["Region__c"]']
    assert changed[0]["changed"] == ["direction"]
    md = ws.run("plan", "--markdown").stdout
    assert md.startswith("### leadsync plan: 0 to create, 1 to update, 0 to delete")
    bad = ws.run("plan", "--json", "--markdown")
    assert bad.returncode == 1 and "exclude each other" in bad.stderr


def test_history_names_the_git_commit_and_status_the_books(ws, emulator):
    git = ["git", "-C", str(ws.path), "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "leadsync.yaml"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "config"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    _apply_ok(ws)
    [entry] = json.loads(ws.run("history", "--json").stdout)
    assert entry["git_commit"] == head.strip()
    assert f"git {head[:12]}" in ws.run("history").stdout
    status = json.loads(ws.run("status", "--json").stdout)
    [book] = status["books"]
    assert book["book"] == BOOK and book["ledger"] == {"baseline": 6}
    assert book["last_run"] is None and book["campaign"] == CAMPAIGN
    assert "never synced" in ws.run("status").stdout


# --- saved plans refused --------------------------------------------------------------------


def test_stale_saved_plan_is_refused(ws, emulator):
    assert ws.run("plan", "--out", "first.plan").returncode == 0
    _apply_ok(ws)
    before = ws.state_bytes()
    proc = ws.run("apply", "first.plan", sub=True)
    assert proc.returncode == 1 and "saved plan is stale" in proc.stderr
    ws.write(config_yaml(lead_status="Working"))
    assert ws.run("plan", "--out", "second.plan").returncode == 0
    ws.write(config_yaml(lead_status="Nurturing"))
    _apply_ok(ws)  # serial 2
    after_two = ws.state_bytes()
    ws.write(config_yaml(lead_status="Working"))
    proc = ws.run("apply", "second.plan", sub=True)
    assert proc.returncode == 1
    assert "made against serial 1, the state is now at serial 2" in proc.stderr
    assert ws.state_bytes() == after_two != before


def test_plan_for_another_lineage_is_refused(ws, emulator):
    _apply_ok(ws)
    ws.write(config_yaml(lead_status="Working"))
    assert ws.run("plan", "--out", "p.plan").returncode == 0
    for p in ws.state.parent.iterdir():  # a different state history at the same place
        p.unlink() if p.is_file() else None
    _apply_ok(ws)
    before = ws.state_bytes()
    proc = ws.run("apply", "p.plan", sub=True)
    assert proc.returncode == 1
    assert "does not match the state" in proc.stderr and "lineage" in proc.stderr
    assert ws.state_bytes() == before


def test_changed_config_is_refused(ws, emulator):
    assert ws.run("plan", "--out", "p.plan").returncode == 0
    ws.write(config_yaml(comment="an innocent-looking edit"))
    proc = ws.run("apply", "p.plan", sub=True)
    assert proc.returncode == 1 and "different leadsync.yaml" in proc.stderr
    assert not ws.state.exists()


def test_changed_environment_is_refused(tmp_path, emulator):
    text = config_yaml().replace("lead_status: New", "lead_status: ${LEAD_STATUS:-New}")
    ws = Workspace(tmp_path, emulator, text)
    _apply_ok(ws)
    ws.write(text.replace("Sent", "Sent  # reviewed"))
    assert ws.run("plan", "--out", "p.plan").returncode == 0
    before = ws.state_bytes()
    proc = ws.run("apply", "p.plan", env={"LEAD_STATUS": "Working"})
    assert proc.returncode == 1 and "resolves to changed" in proc.stderr
    assert ws.state_bytes() == before


def test_changed_observed_schema_is_refused(ws, emulator):
    assert ws.run("plan", "--out", "p.plan").returncode == 0
    r = requests.post(
        f"{emulator.dd_endpoint}/v2/data-fields",
        json={"name": "NEWFIELD", "type": "String"},
        auth=emulator.dd_auth("uk"),
        timeout=10,
    )
    assert r.status_code in (200, 201), r.text
    proc = ws.run("apply", "p.plan")
    assert proc.returncode == 1
    assert "live systems changed" in proc.stderr and "dotdigital.uk.datafields" in proc.stderr
    assert not ws.state.exists()


def test_new_members_between_plan_and_apply_do_not_stale_the_plan(ws, emulator):
    """Books fill up all day; a saved plan stays valid (only schemas and ids count)."""
    assert ws.run("plan", "--out", "p.plan").returncode == 0
    r = requests.post(
        f"{emulator.dd_endpoint}/v2/address-books/1/contacts",
        json={"email": "late@example.com", "optInType": "Single", "emailType": "Html"},
        auth=emulator.dd_auth("uk"),
        timeout=10,
    )
    assert r.status_code == 200, r.text
    proc = ws.run("apply", "p.plan")
    assert proc.returncode == 0, proc.stderr
    assert "7 current members recorded as the baseline" in proc.stdout


def test_not_a_plan_file_is_refused(ws, emulator):
    (ws.path / "junk.plan").write_text('{"hello": 1}')
    proc = ws.run("apply", "junk.plan")
    assert proc.returncode == 1 and "not a leadsync plan file" in proc.stderr
    proc = ws.run("apply", "missing.plan")
    assert proc.returncode == 1 and "cannot read plan file" in proc.stderr
    proc = ws.run("plan", "--out", "no/such/dir/p.plan")
    assert proc.returncode == 1 and "cannot write the plan file" in proc.stderr
    assert not ws.state.exists()


# --- apply safety ------------------------------------------------------------------------------


def test_apply_without_terminal_or_auto_approve_refuses(ws, emulator):
    proc = ws.run("apply", sub=True)
    assert proc.returncode == 1 and "--auto-approve" in proc.stderr
    assert not ws.state.exists()


def test_apply_asks_on_a_terminal(ws, emulator):
    import pty

    def run_on_tty(answer: bytes) -> tuple[int, str]:
        master, slave = pty.openpty()
        proc = subprocess.Popen(
            [LEADSYNC, "apply"], cwd=ws.path, env=ws.env, stdin=slave, stdout=slave, stderr=slave
        )
        os.close(slave)
        out = b""
        sent = False
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
            if not sent and b"[y/N]" in out:
                os.write(master, answer)
                sent = True
        os.close(master)
        return proc.wait(timeout=60), out.decode(errors="replace")

    code, out = run_on_tty(b"n\n")
    assert code == 1 and "Plan: 9 to create" in out and "cancelled" in out
    assert "Traceback" not in out
    assert ws.run("status", "--json").returncode == 0
    assert json.loads(ws.run("status", "--json").stdout)["applied"] is None
    code, out = run_on_tty(b"y\n")
    assert code == 0 and "Apply complete!" in out


HOLDER = """
import sys
from pathlib import Path
from leadsync import cli
from leadsync.config.model import StateConfig
from leadsync.state import open_store
store = open_store(StateConfig("sqlite", ".leadsync/state.db"), Path(sys.argv[1]))
with store.lock(["apply"], timeout=0, purpose="apply"):
    print("locked", flush=True)
    sys.stdin.readline()
"""


def test_concurrent_apply_is_refused_by_the_lock(ws, emulator):
    _apply_ok(ws)
    ws.write(config_yaml(lead_status="Working"))
    before = ws.state_bytes()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(ws.path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        proc = ws.run("apply", "--auto-approve", "--lock-timeout", "0", sub=True)
        assert proc.returncode == 1
        assert "'apply' is held by" in proc.stderr and f"pid {holder.pid}" in proc.stderr
        assert "since" in proc.stderr
        assert ws.state_bytes() == before
        plan = ws.run("plan", "--detailed-exitcode")  # plan takes no lock: never blocked
        assert plan.returncode == 2, plan.stderr
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    _apply_ok(ws)  # the lock is free again


# --- observed checks ---------------------------------------------------------------------------


def _expect_error(ws: Workspace, code: str, needle: str, *, apply_too: bool = True) -> str:
    before = ws.state_bytes()
    line = line_of(ws.text, needle)
    proc = ws.run("plan", "--detailed-exitcode")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"leadsync.yaml:{line}:" in proc.stderr and code in proc.stderr, proc.stderr
    [hit] = [x for x in proc.stderr.splitlines() if code in x]
    assert hit.startswith(f"leadsync.yaml:{line}:"), hit
    if apply_too:
        proc = ws.run("apply", "--auto-approve")
        assert proc.returncode == 1 and code in proc.stderr
        assert "nothing was applied" in proc.stderr
    assert ws.state_bytes() == before
    return proc.stderr


def test_missing_book(tmp_path, emulator):
    ws = Workspace(
        tmp_path, emulator, config_yaml(books=[{"name": "Nope book", "create_leads": True}])
    )
    _expect_error(ws, "LS201", "name: Nope book")


def test_missing_datafield_or_its_planned_creation(tmp_path, emulator):
    rows = [*STD_ROWS, ("Description", "NOTES", "two-way")]
    ws = Workspace(tmp_path, emulator, config_yaml(rows=rows))
    _expect_error(ws, "LS203", "datafield: NOTES")
    ws.write(config_yaml(rows=rows, create_missing=True))
    proc = ws.run("plan", "--out", "p.plan")
    assert proc.returncode == 0, proc.stderr
    assert 'account.uk.datafield["NOTES"] will be created in Dotdigital' in proc.stdout
    assert ws.run("apply", "p.plan").returncode == 0
    names = {
        f["name"]
        for f in requests.get(
            f"{emulator.dd_endpoint}/v2/data-fields", auth=emulator.dd_auth("uk"), timeout=10
        ).json()
    }
    assert "NOTES" in names
    assert ws.run("plan", "--detailed-exitcode").returncode == 0


def test_datafield_created_meanwhile_counts_as_done(tmp_path, emulator):
    """After a crash between creating the datafield and committing, apply converges."""
    rows = [*STD_ROWS, ("Description", "NOTES", "two-way")]
    ws = Workspace(tmp_path, emulator, config_yaml(rows=rows, create_missing=True))
    requests.post(
        f"{emulator.dd_endpoint}/v2/data-fields",
        json={"name": "NOTES", "type": "String"},
        auth=emulator.dd_auth("uk"),
        timeout=10,
    ).raise_for_status()
    _apply_ok(ws)
    assert ws.run("plan", "--detailed-exitcode").returncode == 0


def test_datafield_race_non_unique_counts_as_done(tmp_path, emulator):
    """Another process created the datafield between refresh and create: done, not an error."""
    rows = [*STD_ROWS, ("Description", "NOTES", "two-way")]
    ws = Workspace(tmp_path, emulator, config_yaml(rows=rows, create_missing=True))
    emulator.inject_fault(
        "dotdigital",
        method="POST",
        path_regex="data-fields",
        status=400,
        times=1,
        body={"message": "Field already exists. ERROR_NON_UNIQUE_DATAFIELD"},
    )
    proc = _apply_ok(ws)
    assert 'created account.uk.datafield["NOTES"]' in proc.stdout


def test_type_mismatch_is_a_warning_not_an_error(tmp_path, emulator):
    requests.post(
        f"{emulator.dd_endpoint}/v2/data-fields",
        json={"name": "BIRTHDAY", "type": "Date"},
        auth=emulator.dd_auth("uk"),
        timeout=10,
    ).raise_for_status()
    text = config_yaml(rows=[*STD_ROWS, ("AnnualRevenue", "BIRTHDAY", "two-way")])
    ws = Workspace(tmp_path, emulator, text)
    proc = ws.run("plan")
    assert proc.returncode == 0, proc.stderr
    line = line_of(text, "datafield: BIRTHDAY")
    assert f"leadsync.yaml:{line}:" in proc.stderr and "warning LS210" in proc.stderr


def test_unknown_and_read_only_salesforce_fields(tmp_path, emulator):
    ws = Workspace(
        tmp_path, emulator, config_yaml(rows=[*STD_ROWS, ("Nope__c", "POSTCODE", "two-way")])
    )
    _expect_error(ws, "LS204", "salesforce: Nope__c")
    ws.write(config_yaml(rows=[*STD_ROWS, ("Name", "GENDER", "dotdigital-to-salesforce")]))
    _expect_error(ws, "LS205", "salesforce: Name,")


def test_org_required_field_must_be_mapped(tmp_path, emulator):
    ws = Workspace(tmp_path, emulator, config_yaml(rows=STD_ROWS[:3]))
    err = _expect_error(ws, "LS206", "salesforce: FirstName")  # the mapping list
    assert "Region__c" in err
    rows = [*STD_ROWS[:3], ("Region__c", "REGION", "salesforce-to-dotdigital")]
    ws.write(config_yaml(rows=rows))
    _expect_error(ws, "LS206", "salesforce: Region__c")


def test_lead_status_must_be_active(tmp_path, emulator):
    ws = Workspace(tmp_path, emulator, config_yaml(lead_status="Brand New"))
    err = _expect_error(ws, "LS207", "lead_status: Brand New")
    assert "'Working'" in err


def test_missing_and_ambiguous_campaign(tmp_path, emulator_factory):
    emu = emulator_factory(
        "salesforce:\n  lead_statuses: [New]\n  records:\n    Campaign: [{Name: Twin}, {Name: Twin}]\n"
        "dotdigital:\n  accounts:\n    - name: uk\n      username: u@example.com\n"
        "      password: pw-12345\n      datafields: [{name: COMPANY, type: String}]\n"
        f"      address_books: [{{name: {BOOK}}}]\n"
    )
    books = [{"name": BOOK, "create_leads": True, "campaign": "Nope campaign"}]
    ws = Workspace(tmp_path, emu, config_yaml(rows=STD_ROWS[:3], books=books))
    _expect_error(ws, "LS208", "campaign: Nope campaign")
    ws.write(config_yaml(rows=STD_ROWS[:3], books=[{**books[0], "campaign": "Twin"}]))
    err = _expect_error(ws, "LS209", "campaign: Twin")
    assert err.count("701") >= 2


def test_missing_member_status_is_created(tmp_path, emulator):
    ws = Workspace(tmp_path, emulator, config_yaml(member_status="Registered"))
    proc = ws.run("plan")
    assert (
        f'campaign["{CAMPAIGN}"].member_status["Registered"] will be created in Salesforce'
        in proc.stdout
    )
    _apply_ok(ws)
    sf = emulator.salesforce()
    labels = {
        r["Label"]
        for r in sf.query_all("SELECT CampaignId, Label FROM CampaignMemberStatus")["records"]
    }
    assert "Registered" in labels
    assert ws.run("plan", "--detailed-exitcode").returncode == 0


# --- refresh cost, errors, secrets, drift -------------------------------------------------------


def test_refresh_cost_does_not_grow_with_books_or_rows(tmp_path, emulator):
    rows = [
        *STD_ROWS,
        ("Email", "EMAIL_COPY", "salesforce-to-dotdigital"),
        ("Phone", "PHONE", "two-way"),
        ("Title", "TITLE", "two-way"),
    ]
    books = [
        {"name": BOOK, "create_leads": True, "campaign": CAMPAIGN},
        {"name": "Newsletter", "create_leads": True, "campaign": CAMPAIGN},
    ]
    ws = Workspace(tmp_path, emulator, config_yaml(rows=rows, books=books, create_missing=True))
    emulator.reset_log()
    proc = ws.run("plan")
    assert proc.returncode == 0, proc.stderr
    sf = emulator.requests_log("salesforce")["requests"]
    dd = emulator.requests_log("dotdigital")["requests"]
    describes = [r["path"] for r in sf if r["path"].endswith("/describe")]
    assert sorted(p.split("/")[-2] for p in describes) == ["CampaignMember", "Lead"]
    queries = [r for r in sf if "/query" in r["path"]]
    assert len(queries) == 3  # campaigns, their member statuses, LeadStatus
    assert len([r for r in dd if r["path"].startswith("/v2/address-books")]) == 1
    assert len([r for r in dd if r["path"].startswith("/v2/data-fields")]) == 1
    assert {r["method"] for r in sf + dd} == {"GET"}


def test_config_error_is_diagnostics_and_nothing_written(ws):
    ws.write(ws.text.replace("direction: two-way}", "direction: sideways}", 1))
    for args in (["plan"], ["apply", "--auto-approve"], ["status"]):
        proc = ws.run(*args)
        assert proc.returncode == 1
        assert f"leadsync.yaml:{line_of(ws.text, 'sideways')}:" in proc.stderr
    assert not ws.state.exists()


def test_api_error_is_one_line_and_nothing_written(ws, emulator):
    _apply_ok(ws)
    ws.write(config_yaml(lead_status="Working"))
    before = ws.state_bytes()
    emulator.inject_fault("salesforce", method="GET", path_regex="describe", status=400, times=10)
    proc = ws.run("apply", "--auto-approve", sub=True)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: Salesforce")
    assert ws.state_bytes() == before


def test_secrets_appear_nowhere(tmp_path, emulator_factory):
    token = "sf-TOKEN-Zq9x7Wv3-secret"
    password = "dd-PASS-Kt4m2Rr8-secret"
    username = "dd-USER-Hh6p1Nn5@example.com"
    emu = emulator_factory(
        {
            "dotdigital": {
                "accounts": [
                    {
                        "name": "uk",
                        "username": username,
                        "password": password,
                        "datafields": [{"name": "COMPANY", "type": "String"}],
                        "address_books": [{"name": BOOK, "contacts": [{"email": "a@example.com"}]}],
                    }
                ]
            },
            "salesforce": {
                "access_token": token,
                "lead_statuses": ["New"],
                "records": {"Campaign": [{"Name": CAMPAIGN}]},
            },
        }
    )
    ws = Workspace(tmp_path, emu, config_yaml(rows=STD_ROWS[:3]))
    outputs = []
    for args, sub in (  # the user-facing path as real processes, the rest in-process (faster)
        (["validate", "leadsync.yaml"], False),
        (["plan", "--out", "p.plan"], True),
        (["plan", "--json"], False),
        (["plan", "--markdown"], False),
        (["apply", "p.plan"], True),
        (["plan", "--json"], False),
        (["status", "--json"], False),
        (["history", "--json"], False),
        (["status"], True),
        (["history"], False),
    ):
        proc = ws.run(*args, sub=sub)
        assert proc.returncode == 0, (args, proc.stderr)
        outputs += [proc.stdout, proc.stderr]
    # a failing call must not leak either
    emu.inject_fault("dotdigital", method="GET", path_regex="address-books", status=401, times=10)
    proc = ws.run("plan", sub=True)
    assert proc.returncode == 1
    outputs += [proc.stdout, proc.stderr]
    blobs = [o.encode() for o in outputs]
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.name != "leadsync.yaml":
            blobs.append(path.read_bytes())
    assert any(b"(sensitive)" in b for b in blobs)
    for secret in (token, password, username):
        for blob in blobs:
            assert secret.encode() not in blob, secret


def test_drift_is_reported(tmp_path, emulator_factory):
    """The same config and state against a changed world: book and campaign gone, new required field."""
    first = emulator_factory(
        "dotdigital:\n  accounts:\n    - name: uk\n      username: u@example.com\n"
        "      password: pw-12345\n      datafields: [{name: COMPANY, type: String}]\n"
        f"      address_books: [{{name: {BOOK}}}, {{name: Other}}]\n"
        f"salesforce:\n  lead_statuses: [New]\n  records:\n    Campaign: [{{Name: {CAMPAIGN}}}]\n"
    )
    ws = Workspace(tmp_path, first, config_yaml(rows=STD_ROWS[:3]))
    _apply_ok(ws)
    changed = emulator_factory(
        "dotdigital:\n  accounts:\n    - name: uk\n      username: u@example.com\n"
        "      password: pw-12345\n      datafields: [{name: COMPANY, type: String}]\n"
        f"      address_books: [{{name: Other}}, {{name: {BOOK}}}]\n"
        "salesforce:\n  lead_statuses: [New]\n  lead_fields: [{name: Score__c, type: string, required: true}]\n"
    )
    ws.env.update(changed.env())
    proc = ws.run("plan")
    assert proc.returncode == 1
    out = proc.stdout
    assert "Objects have changed outside of leadsync" in out
    assert "renamed in Dotdigital" in out
    assert "was deleted in Salesforce" in out
    assert "'Score__c' is now required" in out
    assert "LS208" in proc.stderr and "LS206" in proc.stderr


def test_plan_warns_when_lead_lacks_the_upsert_key_and_not_once_it_has_it(
    tmp_path, emulator, emulator_factory
):
    from leadsync.emulator.seed import load_seed

    text = config_yaml()
    (tmp_path / "without").mkdir()
    (tmp_path / "with").mkdir()
    proc = Workspace(tmp_path / "without", emulator, text).run("plan")
    assert proc.returncode == 0, proc.stderr
    line = line_of(text, "create_leads: true")
    [warning] = [ln for ln in proc.stderr.splitlines() if "LS211" in ln]
    assert f"leadsync.yaml:{line}:" in warning and "warning LS211" in warning
    assert "Leadsync_Key__c" in warning and "External ID" in warning
    seed = load_seed(None)
    seed["salesforce"]["lead_fields"].append(
        {"name": "Leadsync_Key__c", "type": "string", "unique": True, "external_id": True}
    )
    keyed = emulator_factory(seed)
    proc = Workspace(tmp_path / "with", keyed, text).run("plan")
    assert proc.returncode == 0 and "LS211" not in proc.stderr, proc.stderr
