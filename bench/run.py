"""leadsync benchmarks: API calls, wall time, CPU and memory of a sync, beside the naive approach.

`make bench-quick` (under a minute) or `make bench` (full set). Each scenario starts its own
emulator process with generated data, applies a config, lets new members join the book, then
runs `leadsync sync` as a measured process. The naive baseline runs on a fresh emulator with the
same data. Every number in the table is measured in this run.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import LEADSYNC, Emulator, Measured, run_measured

MAPPED = {"FIRSTNAME": "First{n}", "LASTNAME": "Last{n}", "COMPANY": "Company {n}"}
CAMPAIGN = "Bench Campaign"
PROFILE: Path | None = None  # --profile FILE: run the measured sync under cProfile
BOOK = "Bench book"
ACCOUNT = "bench"


@dataclass
class Scenario:
    name: str
    existing: int
    new: int
    latency_ms: int
    naive_limit: int  # the naive run is capped to stay under ~2 minutes; figures are per lead


@dataclass
class Row:
    scenario: str
    leads: int
    dd_calls: int
    sf_calls: int
    wall_s: float
    cpu_s: float
    rss_mb: float
    note: str = ""

    @property
    def per_1000(self) -> float:
        return (self.dd_calls + self.sf_calls) * 1000 / max(self.leads, 1)

    @property
    def leads_per_s(self) -> float:
        return self.leads / self.wall_s if self.wall_s else 0.0


def seed(existing: int, extra_books: int = 0) -> dict[str, Any]:
    book: dict[str, Any] = {"name": BOOK}
    if existing:
        book["generate"] = {
            "count": existing,
            "email": "existing{n}@bench.example",
            "datafields": MAPPED,
            "added_at": "2026-01-01T00:00:00Z",
        }
    return {
        "dotdigital": {
            "accounts": [
                {
                    "name": ACCOUNT,
                    "username": "apiuser-bench@apiconnector.com",
                    "password": "bench-password",
                    "datafields": [{"name": "COMPANY", "type": "String"}],
                    "address_books": [book],
                }
            ]
        },
        "salesforce": {
            "lead_statuses": ["New", "Working", "Closed - Converted"],
            "duplicate_rule_on_lead_email": False,
            "daily_api_limit": 100_000_000,
            "records": {"Campaign": [{"Name": CAMPAIGN}]},
        },
    }


def config_text() -> str:
    return f"""version: 1
state: {{backend: sqlite, path: state.db}}
salesforce:
  instance_url: ${{SF_INSTANCE_URL}}
  auth:
    access_token: ${{SF_ACCESS_TOKEN}}
  ca_bundle: ${{SF_CA_BUNDLE}}
  api_version: "61.0"
defaults: {{lead_status: New, campaign_member_status: Sent}}
accounts:
  {ACCOUNT}:
    dotdigital:
      endpoint: ${{DD_BENCH_ENDPOINT}}
      username: ${{DD_BENCH_USERNAME}}
      password: ${{DD_BENCH_PASSWORD}}
    clear_address_books: false
    create_missing_datafields: false
    lead_mapping:
      - {{salesforce: FirstName, datafield: FIRSTNAME, direction: two-way}}
      - {{salesforce: LastName, datafield: LASTNAME, direction: dotdigital-to-salesforce}}
      - {{salesforce: Company, datafield: COMPANY, direction: two-way}}
    address_books:
      - {{name: {BOOK}, create_leads: true, campaign: {CAMPAIGN}}}
"""


def check(m: Measured, what: str, ok: tuple[int, ...] = (0,)) -> None:
    if m.code not in ok:
        raise SystemExit(f"bench: {what} exited {m.code}\n{m.stdout[-2000:]}\n{m.stderr[-2000:]}")


def new_members(emu: Emulator, book_id: int, count: int) -> None:
    emu.add_generated_members(
        ACCOUNT, book_id, {"count": count, "email": "new{n}@bench.example", "datafields": MAPPED}
    )


def server_time(emu: Emulator) -> str:
    creds = emu.info["dotdigital"]["accounts"][ACCOUNT]
    r = requests.get(
        f"{emu.dd}/v2/server-time", auth=(creds["username"], creds["password"]), timeout=30
    )
    return r.json()


def run_leadsync(sc: Scenario, work: Path) -> Row:
    work.mkdir(parents=True)
    (work / "leadsync.yaml").write_text(config_text())
    with Emulator(seed(sc.existing), work / "emulator", sc.latency_ms) as emu:
        env = emu.env()
        apply = run_measured(
            [*LEADSYNC, "apply", "-c", "leadsync.yaml", "--auto-approve"], env=env, cwd=work
        )
        check(apply, "leadsync apply")
        new_members(emu, emu.book_id(ACCOUNT, BOOK), sc.new)
        emu.reset_logs()
        cmd = [*LEADSYNC, "sync", "-c", "leadsync.yaml", "--json"]
        if PROFILE:
            cmd[1:1] = ["-m", "cProfile", "-o", str(PROFILE)]
        m = run_measured(cmd, env=env, cwd=work)
        check(m, "leadsync sync")
        report = json.loads(m.stdout)
        created = sum(b["created"] for b in report["books"])
        if created != sc.new:
            raise SystemExit(f"bench: expected {sc.new} Leads, sync created {created}")
        return Row(
            sc.name,
            created,
            emu.calls("dotdigital"),
            emu.calls("salesforce"),
            m.wall_s,
            m.cpu_s,
            m.peak_rss_mb,
        )


def run_naive(sc: Scenario, work: Path) -> Row:
    work.mkdir(parents=True)
    count = min(sc.new, sc.naive_limit)
    with Emulator(seed(sc.existing), work / "emulator", sc.latency_ms) as emu:
        env = emu.env()
        book_id = emu.book_id(ACCOUNT, BOOK)
        since = server_time(emu)
        new_members(emu, book_id, count)
        q = emu.sf_session.get(
            f"{emu.sf}/services/data/v61.0/query/",
            params={"q": f"SELECT Id FROM Campaign WHERE Name = '{CAMPAIGN}'"},
            headers={"Authorization": f"Bearer {emu.info['salesforce']['access_token']}"},
            timeout=30,
        ).json()
        campaign_id = q["records"][0]["Id"]
        emu.reset_logs()
        naive = str(Path(__file__).resolve().parent / "naive.py")
        m = run_measured(
            [
                sys.executable,
                naive,
                "--account",
                ACCOUNT,
                "--book-id",
                str(book_id),
                "--since",
                since,
                "--campaign-id",
                campaign_id,
                "--limit",
                str(count),
            ],
            env=env,
            cwd=work,
        )
        check(m, "naive baseline")
        note = "" if count == sc.new else f"ran on {count:,} leads; per-lead figures"
        return Row(
            f"naive {sc.name}",
            count,
            emu.calls("dotdigital"),
            emu.calls("salesforce"),
            m.wall_s,
            m.cpu_s,
            m.peak_rss_mb,
            note,
        )


def plan_seed(accounts: int, books: int) -> dict[str, Any]:
    fields = [{"name": f"FIELD{i}", "type": "String"} for i in range(7)]
    fields.append({"name": "COMPANY", "type": "String"})
    return {
        "dotdigital": {
            "accounts": [
                {
                    "name": f"a{a}",
                    "username": f"apiuser-a{a}@apiconnector.com",
                    "password": f"pw-{a}",
                    "datafields": fields,
                    "address_books": [{"name": f"Book {b}"} for b in range(books)],
                }
                for a in range(accounts)
            ]
        },
        "salesforce": {
            "lead_statuses": ["New", "Working"],
            "daily_api_limit": 100_000_000,
            "lead_fields": [{"name": f"Bench{i}__c", "type": "string"} for i in range(7)],
            "records": {"Campaign": [{"Name": f"Campaign {b}"} for b in range(books)]},
        },
    }


def plan_config(accounts: int, books: int) -> str:
    rows = [
        "      - {salesforce: FirstName, datafield: FIRSTNAME, direction: two-way}",
        "      - {salesforce: LastName, datafield: LASTNAME, direction: two-way}",
        "      - {salesforce: Company, datafield: COMPANY, direction: two-way}",
    ] + [
        f"      - {{salesforce: Bench{i}__c, datafield: FIELD{i}, direction: two-way}}"
        for i in range(7)
    ]
    out = [
        "version: 1",
        "state: {backend: sqlite, path: state.db}",
        "salesforce:",
        "  instance_url: ${SF_INSTANCE_URL}",
        "  auth:",
        "    access_token: ${SF_ACCESS_TOKEN}",
        "  ca_bundle: ${SF_CA_BUNDLE}",
        '  api_version: "61.0"',
        "accounts:",
    ]
    for a in range(accounts):
        up = f"A{a}"
        out += [
            f"  a{a}:",
            "    dotdigital:",
            f"      endpoint: ${{DD_{up}_ENDPOINT}}",
            f"      username: ${{DD_{up}_USERNAME}}",
            f"      password: ${{DD_{up}_PASSWORD}}",
            "    clear_address_books: false",
            "    lead_mapping:",
            *rows,
            "    address_books:",
            *[
                f"      - {{name: Book {b}, create_leads: true, campaign: Campaign {b}}}"
                for b in range(books)
            ],
        ]
    return "\n".join(out) + "\n"


def run_plan(accounts: int, books: int, work: Path) -> dict[str, Any]:
    work.mkdir(parents=True)
    (work / "leadsync.yaml").write_text(plan_config(accounts, books))
    with Emulator(plan_seed(accounts, books), work / "emulator") as emu:
        emu.reset_logs()
        m = run_measured(
            [*LEADSYNC, "plan", "-c", "leadsync.yaml", "--detailed-exitcode"],
            env=emu.env(),
            cwd=work,
        )
        check(m, "leadsync plan", ok=(0, 2))
        return {
            "accounts": accounts,
            "books": accounts * books,
            "dd_calls": emu.calls("dotdigital"),
            "sf_calls": emu.calls("salesforce"),
            "wall_s": m.wall_s,
        }


PUSH_CAMPAIGN = "Bench Push Campaign"
PUSH_OVERLAP = 2  # seconds (sync.overlap_seconds of the push bench)
PUSH_BOOK = "Bench push book"


def push_seed(members: int) -> dict[str, Any]:
    """Half Leads, half Contacts, all in one Campaign (the members are added after start)."""
    leads = [
        {"FirstName": f"L{n}", "LastName": f"Lead{n}", "Company": f"Co {n}",
         "Email": f"lead{n}@push.example"}
        for n in range(members // 2)
    ]  # fmt: skip
    contacts = [
        {"FirstName": f"C{n}", "LastName": f"Contact{n}", "Title": "Buyer",
         "Email": f"contact{n}@push.example"}
        for n in range(members - members // 2)
    ]  # fmt: skip
    return {
        "dotdigital": {
            "accounts": [
                {
                    "name": ACCOUNT,
                    "username": "apiuser-bench@apiconnector.com",
                    "password": "bench-password",
                    "datafields": [
                        {"name": "COMPANY", "type": "String"},
                        {"name": "JOBTITLE", "type": "String"},
                    ],
                    "address_books": [{"name": PUSH_BOOK}],
                }
            ]
        },
        "salesforce": {
            "lead_statuses": ["New", "Working", "Closed - Converted"],
            "daily_api_limit": 100_000_000,
            "records": {"Campaign": [{"Name": PUSH_CAMPAIGN}], "Lead": leads, "Contact": contacts},
        },
    }


def push_config(clear: bool) -> str:
    head = config_text().split("    lead_mapping:")[0]
    head = head.replace("clear_address_books: false", f"clear_address_books: {str(clear).lower()}")
    # A short re-read window, so the idle run below can be measured a few seconds later (with
    # the default 300 s, a run within 5 minutes of a change re-reads what changed).
    head = head.replace("accounts:\n", f"sync: {{overlap_seconds: {PUSH_OVERLAP}}}\naccounts:\n", 1)
    return (
        head
        + f"""    lead_mapping:
      - {{salesforce: FirstName, datafield: FIRSTNAME, direction: two-way}}
      - {{salesforce: LastName, datafield: LASTNAME, direction: salesforce-to-dotdigital}}
      - {{salesforce: Company, datafield: COMPANY, direction: two-way}}
    contact_mapping:
      - {{salesforce: FirstName, datafield: FIRSTNAME, direction: salesforce-to-dotdigital}}
      - {{salesforce: LastName, datafield: LASTNAME, direction: salesforce-to-dotdigital}}
      - {{salesforce: Title, datafield: JOBTITLE, direction: salesforce-to-dotdigital}}
    address_books:
      - {{name: {PUSH_BOOK}, campaign: {PUSH_CAMPAIGN}, push_campaign_members: true}}
"""
    )


def run_push(members: int, clear: bool, work: Path) -> dict[str, Any]:
    """Push a Campaign of `members` people into an empty book; then an idle second run."""
    work.mkdir(parents=True)
    (work / "leadsync.yaml").write_text(push_config(clear))
    with Emulator(push_seed(members), work / "emulator") as emu:
        env = emu.env()
        check(
            run_measured(
                [*LEADSYNC, "apply", "-c", "leadsync.yaml", "--auto-approve"], env=env, cwd=work
            ),
            "leadsync apply",
        )
        campaign = emu.sf_query(f"SELECT Id FROM Campaign WHERE Name = '{PUSH_CAMPAIGN}'")[0]["Id"]
        rows = [
            {"CampaignId": campaign, f"{sobject}Id": r["Id"], "Status": "Sent"}
            for sobject in ("Lead", "Contact")
            for r in emu.sf_query(f"SELECT Id FROM {sobject}")
        ]
        for sobject in ("Lead", "Contact"):
            emu.sf_bulk_insert("CampaignMember", [r for r in rows if f"{sobject}Id" in r])
        emu.reset_logs()
        first = run_measured(
            [*LEADSYNC, "sync", "-c", "leadsync.yaml", "--json"], env=env, cwd=work
        )
        check(first, "leadsync sync (push)")
        (book,) = json.loads(first.stdout)["push"]
        if book["pushed"] != members:
            raise SystemExit(f"bench: expected {members} pushed, the sync pushed {book['pushed']}")
        out = {
            "members": members,
            "clear": clear,
            "sf_calls": emu.calls("salesforce"),
            "dd_calls": emu.calls("dotdigital"),
            "wall_s": first.wall_s,
            "cpu_s": first.cpu_s,
            "rss_mb": first.peak_rss_mb,
        }
        # A run re-reads what changed within the overlap window before the previous read:
        # the next run still re-reads the members just created (Salesforce) and imported
        # (Dotdigital, when clearing); the one after that, past the window, is idle.
        for key in ("next", "idle"):
            time.sleep(PUSH_OVERLAP + 1)
            emu.reset_logs()
            again = run_measured(
                [*LEADSYNC, "sync", "-c", "leadsync.yaml", "--json"], env=env, cwd=work
            )
            check(again, f"leadsync sync ({key} push)")
            out[f"{key}_sf_calls"] = emu.calls("salesforce")
            out[f"{key}_dd_calls"] = emu.calls("dotdigital")
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small scenarios, under a minute")
    ap.add_argument("--only", default="", help="run only scenarios whose name contains this")
    ap.add_argument("--no-naive", action="store_true", help="skip the naive baseline")
    ap.add_argument("--no-plan", action="store_true", help="skip the plan benchmark")
    ap.add_argument("--no-push", action="store_true", help="skip the push benchmark")
    ap.add_argument("--profile", type=Path, help="write a cProfile of the (first) sync here")
    args = ap.parse_args()
    global PROFILE
    PROFILE = args.profile.resolve() if args.profile else None
    if args.quick:
        scenarios = [
            Scenario("1,000 new, campaign, 0 ms", 0, 1_000, 0, 200),
            Scenario("1,000 new, campaign, 50 ms", 0, 1_000, 50, 40),
        ]
        plan_shape = (10, 5)
    else:
        # Naive caps: the baseline makes 3 calls per lead (~15 leads/s at 0 ms and ~5 at 50 ms
        # on a loaded 2-core machine); with caps of 2,000/300 the naive runs alone took ~10
        # of the full run's 16.6 minutes. Its figures are per lead, so a smaller sample keeps
        # them and the full run under 15 minutes.
        scenarios = [
            Scenario("1,000 new, campaign, 0 ms", 0, 1_000, 0, 500),
            Scenario("1,000 new, campaign, 50 ms", 0, 1_000, 50, 150),
            Scenario("10,000 new, campaign, 0 ms", 0, 10_000, 0, 500),
            Scenario("10,000 new, campaign, 50 ms", 0, 10_000, 50, 150),
            Scenario("100,000 new in 1,000,000, 0 ms", 900_000, 100_000, 0, 500),
            Scenario("100,000 new in 1,000,000, 50 ms", 900_000, 100_000, 50, 150),
        ]
        plan_shape = (50, 20)
    scenarios = [sc for sc in scenarios if args.only in sc.name]

    root = Path(tempfile.mkdtemp(prefix="leadsync-bench-"))
    console = Console(width=180)
    rows: list[Row] = []
    naive_rows: list[Row] = []
    try:
        for i, sc in enumerate(scenarios):
            console.print(f"[dim]running {sc.name} ...[/dim]")
            rows.append(run_leadsync(sc, root / f"s{i}"))
            if not args.no_naive:
                naive_rows.append(run_naive(sc, root / f"n{i}"))
        plan = None
        if not args.no_plan:
            console.print("[dim]running plan benchmark ...[/dim]")
            plan = run_plan(*plan_shape, root / "plan")
        pushes = []
        if not args.no_push and args.only in "push 10,000 Campaign members":
            for clear in (False, True):
                console.print(
                    f"[dim]running push benchmark (clear_address_books {clear}) ...[/dim]"
                )
                pushes.append(run_push(10_000, clear, root / f"push-{clear}"))
    finally:
        shutil.rmtree(root, ignore_errors=True)

    table = Table(
        title=f"leadsync sync benchmark ({platform.machine()}, {platform.python_version()})"
    )
    for col in (
        "scenario",
        "new leads",
        "DD calls",
        "SF calls",
        "calls/1k leads",
        "wall s",
        "CPU s",
        "peak RSS MB",
        "leads/s",
        "note",
    ):
        table.add_column(col, justify="left" if col in ("scenario", "note") else "right")
    for r in [*rows, *naive_rows]:
        table.add_row(
            r.scenario,
            f"{r.leads:,}",
            f"{r.dd_calls:,}",
            f"{r.sf_calls:,}",
            f"{r.per_1000:,.1f}",
            f"{r.wall_s:.2f}",
            f"{r.cpu_s:.2f}",
            f"{r.rss_mb:.0f}",
            f"{r.leads_per_s:,.0f}",
            r.note,
        )
    console.print(table)
    for r in rows:
        console.print(f"{r.scenario}: leadsync CPU {r.cpu_s * 1000 / r.leads:.3f} ms per lead")
    slow = [(r, n) for r, n in zip(rows, naive_rows, strict=False) if "50 ms" in r.scenario]
    if slow and len(rows) == len(naive_rows):
        # Full run: the 10,000-lead scenario at 50 ms; quick run: the only 50 ms scenario.
        r, n = slow[0] if args.quick else slow[1]
        console.print(
            f"ratio at 50 ms ({r.scenario}): naive calls / leadsync calls per lead = "
            f"{n.per_1000 / r.per_1000:,.1f}x; naive wall / leadsync wall per lead = "
            f"{(n.wall_s / n.leads) / (r.wall_s / r.leads):,.1f}x"
        )
    for p in pushes:
        console.print(
            f"push: {p['members']:,} Campaign members (half Leads, half Contacts) into an empty "
            f"book, clear_address_books {str(p['clear']).lower()}: "
            f"{p['sf_calls'] + p['dd_calls']} API calls (Salesforce {p['sf_calls']}, Dotdigital "
            f"{p['dd_calls']}), {p['wall_s']:.2f} s wall, {p['cpu_s']:.2f} s CPU, "
            f"{p['rss_mb']:.0f} MB peak RSS; the next run (re-reads the overlap window): "
            f"Salesforce {p['next_sf_calls']}, Dotdigital {p['next_dd_calls']} calls; then an "
            f"idle run: Salesforce {p['idle_sf_calls']}, Dotdigital {p['idle_dd_calls']} calls"
        )
    if plan:
        console.print(
            f"plan: {plan['accounts']} accounts, {plan['books']} books, 10 mapping rows each: "
            f"Dotdigital {plan['dd_calls']} calls ({plan['dd_calls'] / plan['accounts']:.1f} per "
            f"account), Salesforce {plan['sf_calls']} calls, {plan['wall_s']:.2f} s wall"
        )


if __name__ == "__main__":
    main()
