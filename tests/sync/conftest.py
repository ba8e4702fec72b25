"""End-to-end helpers for the sync tests: a workspace with leadsync.yaml, the real CLI as a
subprocess, the emulators driven through their public HTTP APIs, Salesforce read back through
unmodified simple-salesforce."""

from __future__ import annotations

import copy
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

LEADSYNC = str(Path(sys.executable).with_name("leadsync"))

# The example org's required, restricted Region picklist on Lead, and a member who was in the
# book before leadsync came: the sync tests' seed and the init tests' (tests/init) share them.
REGION_FIELD: dict[str, Any] = {
    "name": "Region__c",
    "type": "picklist",
    "values": ["EMEA", "AMER", "APAC"],
    "required": True,
    "restricted": True,
}
EXISTING_MEMBER: dict[str, Any] = {
    "email": "before@example.com",
    "datafields": {
        "FIRSTNAME": "Pre",
        "LASTNAME": "Existing",
        "COMPANY": "Old Co",
        "REGION": "EMEA",
    },
}

BASE_SEED: dict[str, Any] = {
    "dotdigital": {
        "accounts": [
            {
                "name": "uk",
                "username": "apiuser-uk@apiconnector.com",
                "password": "demo-password",
                "datafields": [
                    {"name": "COMPANY", "type": "String"},
                    {"name": "REGION", "type": "String"},
                ],
                "address_books": [
                    {
                        "name": "Webinar signups",
                        "contacts": [EXISTING_MEMBER],
                    },
                    {"name": "Big list", "contacts": []},
                ],
            }
        ]
    },
    "salesforce": {
        "lead_statuses": ["New", "Working", "Closed - Converted"],
        "lead_fields": [REGION_FIELD],
        "duplicate_rule_on_lead_email": False,
        "daily_api_limit": 1_000_000,
        "records": {
            "Campaign": [{"Name": "Spring Webinar 2026"}],
            "Lead": [
                {
                    "FirstName": "Grace",
                    "LastName": "Hopper",
                    "Company": "Navy",
                    "Email": "grace@example.com",
                    "Region__c": "AMER",
                }
            ],
            "Contact": [{"LastName": "Existing", "Email": "old@example.com"}],
        },
        "users": [{"username": "admin@leadsync.test", "password": "pw-1", "security_token": "tok"}],
        "connected_apps": [{"consumer_key": "ck", "consumer_secret": "cs"}],
    },
}

MAPPING = [
    ("FirstName", "FIRSTNAME", "two-way"),
    ("LastName", "LASTNAME", "dotdigital-to-salesforce"),
    ("Company", "COMPANY", "two-way"),
    ("Region__c", "REGION", "dotdigital-to-salesforce"),
    ("PostalCode", "POSTCODE", "salesforce-to-dotdigital"),
]

ACCESS_TOKEN_AUTH = "    access_token: ${SF_ACCESS_TOKEN}\n"
PASSWORD_AUTH = (
    "    username: ${SF_USERNAME}\n"
    "    password: ${SF_PASSWORD}\n"
    "    security_token: ${SF_SECURITY_TOKEN}\n"
    "    consumer_key: ${SF_CONSUMER_KEY}\n"
    "    consumer_secret: ${SF_CONSUMER_SECRET}\n"
    "    login_url: ${SF_LOGIN_URL}\n"
)


# The `state:` block config_yaml writes; the backend tests swap it for PostgreSQL's.
SQLITE_BLOCK = "state:\n  backend: sqlite\n  path: .leadsync/state.db\n"


def config_yaml(
    *,
    mapping: list[tuple[str, str, str]] = MAPPING,
    books: list[dict[str, Any]] | None = None,
    sync: dict[str, Any] | None = None,
    auth: str = ACCESS_TOKEN_AUTH,
    clear: bool = False,
    contact_mapping: list[tuple[str, str, str]] | None = None,
) -> str:
    books = books or [
        {"name": "Webinar signups", "create_leads": True, "campaign": "Spring Webinar 2026"}
    ]
    lines = [
        "version: 1",
        *SQLITE_BLOCK.splitlines(),
        "salesforce:",
        "  instance_url: ${SF_INSTANCE_URL}",
        "  auth:",
        auth.rstrip("\n"),
        "  ca_bundle: ${SF_CA_BUNDLE}",
        '  api_version: "61.0"',
        "defaults:",
        "  lead_status: New",
        "  campaign_member_status: Sent",
    ]
    if sync:
        lines.append("sync:")
        lines += [f"  {k}: {json.dumps(v)}" for k, v in sync.items()]
    lines += [
        "accounts:",
        "  uk:",
        "    dotdigital:",
        "      endpoint: ${DD_UK_ENDPOINT}",
        "      username: ${DD_UK_USERNAME}",
        "      password: ${DD_UK_PASSWORD}",
        f"    clear_address_books: {'true' if clear else 'false'}",
        "    create_missing_datafields: false",
        "    lead_mapping:",
    ]
    lines += [
        f"      - {{salesforce: {sf}, datafield: {df}, direction: {d}}}" for sf, df, d in mapping
    ]
    if contact_mapping:
        lines.append("    contact_mapping:")
        lines += [
            f"      - {{salesforce: {sf}, datafield: {df}, direction: {d}}}"
            for sf, df, d in contact_mapping
        ]
    lines.append("    address_books:")
    for book in books:
        lines.append(f"      - name: {json.dumps(book['name'])}")
        for key, value in book.items():
            if key != "name":
                lines.append(f"        {key}: {json.dumps(value)}")
    return "\n".join(lines) + "\n"


class Workspace:
    """A directory with leadsync.yaml, an emulator, and the `leadsync` CLI run as a process."""

    def __init__(self, root: Path, emu: Any) -> None:
        self.root = root
        self.emu = emu
        self.env = {**os.environ, **emu.env()}
        self.env.pop("REQUESTS_CA_BUNDLE", None)
        self.env.pop("CURL_CA_BUNDLE", None)

    @property
    def state_db(self) -> Path:
        return self.root / ".leadsync" / "state.db"

    def write_config(self, text: str) -> None:
        (self.root / "leadsync.yaml").write_text(text)

    def run(self, *args: str, check: tuple[int, ...] | None = None) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [LEADSYNC, *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if check is not None:
            assert proc.returncode in check, (
                proc.returncode,
                proc.stdout[-3000:],
                proc.stderr[-3000:],
            )
        assert "Traceback" not in proc.stderr, proc.stderr
        return proc

    def popen(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(
            [LEADSYNC, *args],
            cwd=self.root,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def apply(self) -> None:
        self.run("apply", "-c", "leadsync.yaml", "--auto-approve", check=(0,))

    def sync(self, *args: str, code: tuple[int, ...] = (0, 4)) -> dict[str, Any]:
        proc = self.run("sync", "-c", "leadsync.yaml", "--json", *args, check=code)
        report = json.loads(proc.stdout)
        for book in report["books"]:
            outcomes = (
                book["created"]
                + book["excluded_existing"]
                + book["skipped_missing_fields"]
                + book["failed"]
                + book["pending"]
            )
            assert book["seen"] == outcomes, book
        report["_stderr"] = proc.stderr
        report["_exit"] = proc.returncode
        return report

    # -- Dotdigital, through its API -------------------------------------------------------
    def book_id(self, name: str, account: str = "uk") -> int:
        s = self.emu.dd_session(account)
        books = s.get(f"{self.emu.dd_endpoint}/v2/address-books", params={"select": 1000}).json()
        return next(b["id"] for b in books if b["name"] == name)

    def add_member(
        self,
        email: str,
        datafields: dict[str, Any],
        book: str = "Webinar signups",
        account: str = "uk",
    ) -> dict[str, Any]:
        """Add (or, for an existing contact, update) a member through the v2 API."""
        s = self.emu.dd_session(account)
        r = s.post(
            f"{self.emu.dd_endpoint}/v2/address-books/{self.book_id(book, account)}/contacts",
            json={
                "email": email,
                "optInType": "Single",
                "emailType": "Html",
                "dataFields": [{"key": k, "value": v} for k, v in datafields.items()],
            },
        )
        assert r.status_code in (200, 201), r.text
        return r.json()

    def members(self, book: str, account: str = "uk") -> dict[str, dict[str, Any]]:
        """Every member of a book with its datafields (v2, full data, paged): email -> fields.
        Fails on an email listed twice (a book holds a person once)."""
        s = self.emu.dd_session(account)
        out: dict[str, dict[str, Any]] = {}
        skip = 0
        while True:
            page = s.get(
                f"{self.emu.dd_endpoint}/v2/address-books/{self.book_id(book, account)}/contacts",
                params={"withFullData": "true", "select": 1000, "skip": skip},
            ).json()
            for c in page:
                email = c["email"].lower()
                assert email not in out, f"{email} twice in {book!r}"
                out[email] = {d["key"]: d["value"] for d in c.get("dataFields") or []}
            if len(page) < 1000:
                return out
            skip += len(page)

    def generate(self, book: str, spec: dict[str, Any]) -> dict[str, Any]:
        r = self.emu.control(
            "dotdigital",
            "POST",
            f"/__emulator/accounts/uk/address-books/{book}/generate",
            json=spec,
        )
        assert r.status_code == 201, r.text
        return r.json()

    # -- Salesforce, through simple-salesforce -------------------------------------------------
    def query(self, soql: str) -> list[dict[str, Any]]:
        return self.emu.salesforce().query_all(soql)["records"]

    def leads(
        self, fields: str = "Id, Email, FirstName, LastName, Company, Status, Region__c, PostalCode"
    ) -> dict[str, dict[str, Any]]:
        rows = self.query(f"SELECT {fields} FROM Lead")
        emails = [r["Email"].lower() for r in rows]
        assert len(emails) == len(set(emails)), "duplicate Leads: " + str(
            sorted(e for e in emails if emails.count(e) > 1)[:10]
        )
        return {r["Email"].lower(): r for r in rows}

    def campaign_members(self) -> list[dict[str, Any]]:
        rows = self.query("SELECT Id, CampaignId, LeadId, ContactId, Status FROM CampaignMember")
        pairs = [(r["CampaignId"], r["LeadId"] or r["ContactId"]) for r in rows]
        assert len(pairs) == len(set(pairs)), "duplicate CampaignMembers"
        return rows

    def age_attempts(self) -> None:
        """Move every in-doubt write's attempt time back to 2000 (instead of waiting out
        sync.in_doubt_grace): time passing, written into the real state file."""
        import sqlite3

        con = sqlite3.connect(self.state_db)
        with con:
            con.execute(
                "UPDATE ledger SET attempted_at = '2000-01-01T00:00:00Z' WHERE attempt IS NOT NULL"
            )
        con.close()

    def state_rows(self, sql: str) -> list[tuple]:
        import sqlite3

        con = sqlite3.connect(self.state_db)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()


@pytest.fixture
def workspace(tmp_path: Path, emulator_factory: Callable[..., Any]) -> Callable[..., Workspace]:
    def make(
        seed: dict[str, Any] | None = None, config: str | None = None, apply: bool = True
    ) -> Workspace:
        emu = emulator_factory(seed or BASE_SEED)
        ws = Workspace(tmp_path, emu)
        ws.write_config(config or config_yaml())
        if apply:
            ws.apply()
        return ws

    return make


def member(
    first: str, last: str, company: str | None, region: str = "EMEA", **more: Any
) -> dict[str, Any]:
    values = {"FIRSTNAME": first, "LASTNAME": last, "REGION": region, **more}
    if company is not None:
        values["COMPANY"] = company
    return values


def until(predicate: Callable[[], bool], what: str, procs: tuple[Any, ...] = ()) -> None:
    """Poll the emulator's (or a server's) state: synchronisation on an event, not a timed wait."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if predicate():
            return
        for proc in procs:
            assert proc.poll() is None, (f"process ended before {what}", proc.communicate())
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def kill_running(*procs: subprocess.Popen | None) -> None:
    """SIGKILL and reap each process still running: a test's cleanup, whatever failed."""
    for proc in procs:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.communicate()


def fault_taken(emu: Any, service: str, fault: dict[str, Any]) -> bool:
    """Whether a request has used up the fault's last time: with a long delay_ms, that request
    is now held by the emulator (until clear_faults)."""
    faults = emu.control(service, "GET", "/__emulator/faults").json()["faults"]
    return next(f for f in faults if f["id"] == fault["id"])["remaining"] == 0


def kill_mid_sync(
    ws: Workspace, *, members: int, service: str, method: str, regex: str, nth: int
) -> None:
    """Start `leadsync sync` on `members` new members and SIGKILL it while the emulator holds the
    n-th request matching (method, regex); then let the server finish that request, as a real
    server may still finish a request whose client died. The kill always lands while that
    request is held, however loaded the machine: the hold is released only by clear_faults()."""
    ws.generate(
        "Webinar signups",
        {
            "count": members,
            "email": "k{n}@example.com",
            "datafields": {
                "FIRSTNAME": "K{n}",
                "LASTNAME": "Kill",
                "COMPANY": "Co",
                "REGION": "EMEA",
            },
        },
    )
    ws.emu.reset_log()
    kill_while_held(ws, service=service, method=method, regex=regex, nth=nth)
    release_held(ws, service=service, method=method, regex=regex, nth=nth)


def kill_while_held(
    ws: Workspace, *, service: str, method: str, regex: str, nth: int = 1, **fault: Any
) -> None:
    """Start `leadsync sync` and SIGKILL it while the emulator holds the n-th request matching
    (method, regex). The request stays held (the server still has it) until release_held().
    `fault`: more of the held request's fault, e.g. drop_connection=True (never applied)."""
    if nth > 1:
        ws.emu.inject_fault(service, method=method, path_regex=regex, delay_ms=1, times=nth - 1)
    hold = ws.emu.inject_fault(
        service, method=method, path_regex=regex, delay_ms=600_000, times=1, **fault
    )
    proc = ws.popen("sync", "-c", "leadsync.yaml", "--json")
    until(lambda: fault_taken(ws.emu, service, hold), "the held request", (proc,))
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL


def release_held(ws: Workspace, *, service: str, method: str, regex: str, nth: int = 1) -> None:
    """Let the server finish the held request without its client (a real server may finish a
    request whose client died), and wait until it has: n requests matching are in the log
    since the last reset."""
    ws.emu.clear_faults()

    def finished() -> bool:
        log = ws.emu.requests_log(service)["requests"]
        return (
            sum(r["method"] == method and re.search(regex, r["path"]) is not None for r in log)
            >= nth
        )

    until(finished, "the server to finish the held request")


def accounts_seed(names: list[str]) -> dict[str, Any]:
    """BASE_SEED with one Dotdigital account per name (each with an empty "Webinar signups"),
    all against the one Salesforce org: an agency's many brands."""
    seed = copy.deepcopy(BASE_SEED)
    template = seed["dotdigital"]["accounts"][0]
    accounts = []
    for name in names:
        account = copy.deepcopy(template)
        account.update(
            name=name, username=f"apiuser-{name}@apiconnector.com", password=f"pw-{name}"
        )
        account["address_books"] = [{"name": "Webinar signups", "contacts": []}]
        accounts.append(account)
    seed["dotdigital"]["accounts"] = accounts
    return seed


def accounts_config(names: list[str], **options: Any) -> str:
    """config_yaml() with the `uk` account repeated once per name (credentials DD_<NAME>_*)."""
    head, uk = config_yaml(**options).split("accounts:\n", 1)
    blocks = [
        uk.replace("  uk:\n", f"  {name}:\n", 1).replace("${DD_UK_", f"${{DD_{name.upper()}_")
        for name in names
    ]
    return head + "accounts:\n" + "".join(blocks)


def add_members(emu: Any, account: str, count: int, book: str = "Webinar signups") -> None:
    """`count` new members `<account>-<n>@example.com` in the account's book (emulator route)."""
    r = emu.control(
        "dotdigital",
        "POST",
        f"/__emulator/accounts/{account}/address-books/{book}/generate",
        json={
            "count": count,
            "email": f"{account}-{{n}}@example.com",
            "datafields": {
                "FIRSTNAME": "M{n}",
                "LASTNAME": account,
                "COMPANY": "Co",
                "REGION": "EMEA",
            },
        },
    )
    assert r.status_code == 201, r.text


class Kit:
    """The module's helpers, handed to tests of every directory as the `kit` fixture (defined
    in tests/conftest.py; test modules cannot import conftest under --import-mode=importlib)."""

    BASE_SEED = BASE_SEED
    REGION_FIELD = REGION_FIELD
    EXISTING_MEMBER = EXISTING_MEMBER
    MAPPING = MAPPING
    PASSWORD_AUTH = PASSWORD_AUTH
    SQLITE_BLOCK = SQLITE_BLOCK
    config_yaml = staticmethod(config_yaml)
    member = staticmethod(member)
    kill_mid_sync = staticmethod(kill_mid_sync)
    kill_while_held = staticmethod(kill_while_held)
    release_held = staticmethod(release_held)
    until = staticmethod(until)
    fault_taken = staticmethod(fault_taken)
    kill_running = staticmethod(kill_running)
    Workspace = Workspace
    accounts_seed = staticmethod(accounts_seed)
    accounts_config = staticmethod(accounts_config)
    add_members = staticmethod(add_members)
