"""leadsync benchmarks: API calls, wall time, CPU and memory of a sync, beside the naive approach.

`make bench-quick` (under a minute) or `make bench` (full set). Each scenario starts its own
emulator process with generated data, applies a config, lets new members join the book, then
runs `leadsync sync` as a measured process. The naive baseline runs on a fresh emulator with the
same data. Every number in the table is measured in this run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (
    Build,
    Emulator,
    Measured,
    account_head,
    check,
    config_head,
    revision,
    run_measured,
    working_tree,
)
from jobs import JobsRun, run_jobs, supports_jobs
from push import run_push

MAPPED = {"FIRSTNAME": "First{n}", "LASTNAME": "Last{n}", "COMPANY": "Company {n}"}
CAMPAIGN = "Bench Campaign"
PROFILE: Path | None = None  # --profile FILE: run the measured sync under cProfile (CPU time)
PYSPY: Path | None = None  # --pyspy FILE: sample the measured sync with py-spy (collapsed stacks)
CPU_PROFILE = str(Path(__file__).resolve().parent / "cpuprofile.py")
SCHEDULED_ROUNDS = 7  # the 10-lead sync is repeated (10 new members each time); median CPU
VALIDATE_ROUNDS = 11
BOOK = "Bench book"
PUSH_SCENARIO = "push 10,000 Campaign members"
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
    build: str
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


def pyspy_cmd(out: Path) -> list[str]:
    """py-spy (installed beside the interpreter: `pip install py-spy`, not a dependency)
    sampling the sync as its child at 250 Hz, idle time left out, as collapsed stacks."""
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or "py-spy"
    return [spy, "record", "-r", "250", "-f", "raw", "-o", str(out), "--"]


def run_leadsync(sc: Scenario, work: Path, build: Build) -> Row:
    work.mkdir(parents=True)
    (work / "leadsync.yaml").write_text(config_text())
    with Emulator(seed(sc.existing), work / "emulator", sc.latency_ms) as emu:
        env = build.env(emu.env())
        apply = run_measured(
            build.cmd("apply", "-c", "leadsync.yaml", "--auto-approve"), env=env, cwd=work
        )
        check(apply, "leadsync apply")
        new_members(emu, emu.book_id(ACCOUNT, BOOK), sc.new)
        emu.reset_logs()
        cmd = build.cmd("sync", "-c", "leadsync.yaml", "--json")
        if PROFILE:
            cmd[1:3] = [CPU_PROFILE, str(PROFILE.with_suffix(f".{build.label.split()[0]}.prof"))]
        if PYSPY:
            out = PYSPY.with_suffix(f".{build.label.split()[0]}.txt")
            cmd = [*pyspy_cmd(out), *cmd]
        m = run_measured(cmd, env=env, cwd=work)
        check(m, "leadsync sync")
        # py-spy prints lines before and after the report: decode the first JSON object only
        report, _ = json.JSONDecoder().raw_decode(m.stdout[m.stdout.index("{") :])
        created = sum(b["created"] for b in report["books"])
        if created != sc.new:
            raise SystemExit(f"bench: expected {sc.new} Leads, sync created {created}")
        return Row(
            build.label,
            sc.name,
            created,
            emu.calls("dotdigital"),
            emu.calls("salesforce"),
            m.wall_s,
            m.cpu_s,
            m.peak_rss_mb,
        )


@dataclass
class Repeated:
    """A short command measured several times: median and spread of each figure."""

    build: str
    what: str
    cpu_s: list[float] = field(default_factory=list)
    wall_s: list[float] = field(default_factory=list)
    calls: list[int] = field(default_factory=list)

    def add(self, m: Measured, calls: int = 0) -> None:
        self.cpu_s.append(m.cpu_s)
        self.wall_s.append(m.wall_s)
        self.calls.append(calls)

    @property
    def cpu(self) -> float:
        return statistics.median(self.cpu_s)

    @property
    def wall(self) -> float:
        return statistics.median(self.wall_s)

    def describe(self) -> str:
        return (
            f"CPU median {self.cpu:.3f} s (min {min(self.cpu_s):.3f}), wall median "
            f"{self.wall:.3f} s (min {min(self.wall_s):.3f}), {len(self.cpu_s)} runs"
        )


def run_scheduled(root: Path, builds: list[Build], new: int = 10) -> list[Repeated]:
    """The common case: a scheduled `sync` that finds a few new members. Each round adds `new`
    members and runs one sync as its own process: whole-process CPU, start-up included.

    Every build has its own emulator and state, and the builds take turns round by round, so
    a burst of other work on a shared machine (which slows a process's CPU too: caches,
    sibling hyperthreads) falls on all of them alike."""
    outs = [Repeated(b.label, f"scheduled sync of {new} new leads") for b in builds]
    with contextlib.ExitStack() as stack:
        setups = []
        for build in builds:
            work = root / f"sched-{build.label.split()[0]}"
            work.mkdir(parents=True)
            (work / "leadsync.yaml").write_text(config_text())
            emu = stack.enter_context(Emulator(seed(0), work / "emulator"))
            env = build.env(emu.env())
            apply = run_measured(
                build.cmd("apply", "-c", "leadsync.yaml", "--auto-approve"), env=env, cwd=work
            )
            check(apply, "leadsync apply")
            setups.append((work, emu, env, emu.book_id(ACCOUNT, BOOK)))
        for r in range(SCHEDULED_ROUNDS):
            for build, out, (work, emu, env, book_id) in zip(builds, outs, setups, strict=True):
                block = {"count": new, "email": f"round{r}-{{n}}@bench.example"}
                emu.add_generated_members(ACCOUNT, book_id, {**block, "datafields": MAPPED})
                emu.reset_logs()
                cmd = build.cmd("sync", "-c", "leadsync.yaml", "--json")
                m = run_measured(cmd, env=env, cwd=work)
                check(m, "leadsync sync")
                created = sum(b["created"] for b in json.loads(m.stdout)["books"])
                if created != new:
                    raise SystemExit(f"bench: expected {new} Leads, sync created {created}")
                out.add(m, emu.calls("dotdigital") + emu.calls("salesforce"))
    return outs


def run_validate(root: Path, builds: list[Build]) -> list[Repeated]:
    """`leadsync validate` as a pre-commit hook runs it: offline, no secrets in the env. The
    builds take turns run by run (see run_scheduled)."""
    work = root / "validate"
    work.mkdir(parents=True)
    (work / "leadsync.yaml").write_text(config_text())
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SF_", "DD_"))}
    outs = [Repeated(b.label, "leadsync validate") for b in builds]
    for _ in range(VALIDATE_ROUNDS):
        for build, out in zip(builds, outs, strict=True):
            m = run_measured(
                build.cmd("validate", "--allow-unset-env", "leadsync.yaml"),
                env=build.env(base),
                cwd=work,
            )
            check(m, "leadsync validate")
            out.add(m)
    return outs


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
            "naive",
            sc.name,
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
    out = config_head()
    for a in range(accounts):
        out += [
            *account_head(a),
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


def run_plan(accounts: int, books: int, work: Path, build: Build) -> dict[str, Any]:
    work.mkdir(parents=True)
    (work / "leadsync.yaml").write_text(plan_config(accounts, books))
    with Emulator(plan_seed(accounts, books), work / "emulator") as emu:
        emu.reset_logs()
        m = run_measured(
            build.cmd("plan", "-c", "leadsync.yaml", "--detailed-exitcode"),
            env=build.env(emu.env()),
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


TARGET_SCENARIO = "10,000 new, campaign, 0 ms"
JOBS_SCENARIO = "many accounts x new leads at 50 ms, --jobs 8 vs --jobs 1"
RSS_SCENARIO = "100,000 new in 1,000,000, 0 ms"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small scenarios, under a minute")
    ap.add_argument("--only", default="", help="run only scenarios whose name contains this")
    ap.add_argument("--no-naive", action="store_true", help="skip the naive baseline")
    ap.add_argument("--no-plan", action="store_true", help="skip the plan benchmark")
    ap.add_argument("--no-push", action="store_true", help="skip the push benchmark")
    ap.add_argument(
        "--no-startup", action="store_true", help="skip the 10-lead sync and validate figures"
    )
    ap.add_argument(
        "--no-jobs", action="store_true", help="skip the --jobs 8 vs --jobs 1 comparison"
    )
    ap.add_argument(
        "--jobs-shape",
        default="100,1000",
        metavar="ACCOUNTS,NEW",
        help="accounts and new leads per account of the --jobs comparison (default 100,1000)",
    )
    ap.add_argument(
        "--before",
        metavar="REV",
        help="also measure git revision REV (e.g. main) in the same run, side by side",
    )
    ap.add_argument("--profile", type=Path, help="write a CPU-time cProfile of each sync here")
    ap.add_argument(
        "--pyspy", type=Path, help="sample each sync with py-spy; collapsed stacks written here"
    )
    args = ap.parse_args()
    global PROFILE, PYSPY
    PROFILE = args.profile.resolve() if args.profile else None
    PYSPY = args.pyspy.resolve() if args.pyspy else None
    scenarios, plan_shape = _scenarios(args.quick)
    scenarios = [sc for sc in scenarios if args.only in sc.name]

    root = Path(tempfile.mkdtemp(prefix="leadsync-bench-"))
    console = Console(width=200)
    results = Results()
    try:
        builds = [working_tree()]
        if args.before:
            builds.insert(0, revision(args.before, root / "builds"))
        for build in builds:
            build.compile()
        for i, sc in enumerate(scenarios):
            # Builds alternate per scenario, so both see the same load on a shared machine.
            for build in builds:
                console.print(f"[dim]running {sc.name} ({build.label}) ...[/dim]")
                tag = build.label.split()[0]
                results.rows.append(run_leadsync(sc, root / f"s{i}-{tag}", build))
            if not args.no_naive:
                results.naive.append(run_naive(sc, root / f"n{i}"))
        if not args.no_startup:
            console.print("[dim]running the 10-lead sync and validate, builds taking turns ...")
            results.scheduled.extend(run_scheduled(root, builds))
            results.validate.extend(run_validate(root, builds))
        if not args.quick and not args.no_jobs and args.only in JOBS_SCENARIO:
            accounts, new = (int(n) for n in args.jobs_shape.split(","))
            # builds alternate within each --jobs setting, as the scenarios do (shared load)
            with_jobs = [b for b in builds if supports_jobs(b)]
            for jobs in (1, 8):
                for build in with_jobs if jobs == 1 else with_jobs[::-1]:
                    console.print(
                        f"[dim]running {JOBS_SCENARIO}, --jobs {jobs} ({build.label}) ..."
                    )
                    tag = f"{build.label.split()[0]}-{jobs}"
                    results.jobs.append(
                        run_jobs(
                            root / f"jobs-{tag}",
                            build,
                            jobs,
                            accounts=accounts,
                            new=new,
                            latency_ms=50,
                        )
                    )
        if not args.no_plan:
            for build in builds:
                console.print(f"[dim]running plan benchmark ({build.label}) ...[/dim]")
                tag = build.label.split()[0]
                results.plans.append(
                    (build.label, run_plan(*plan_shape, root / f"plan-{tag}", build))
                )
        if not args.no_push and args.only in PUSH_SCENARIO:
            for clear in (False, True):
                console.print(f"[dim]running {PUSH_SCENARIO} (clear_address_books {clear}) ...")
                results.pushes.append(
                    run_push(10_000, clear, root / f"push-{clear}", config_text())
                )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    report(console, results, [b.label for b in builds], quick=args.quick)


def _scenarios(quick: bool) -> tuple[list[Scenario], tuple[int, int]]:
    if quick:
        return [
            Scenario("1,000 new, campaign, 0 ms", 0, 1_000, 0, 200),
            Scenario("1,000 new, campaign, 50 ms", 0, 1_000, 50, 40),
        ], (10, 5)
    # Naive caps: the baseline makes 3 calls per lead (~15 leads/s at 0 ms and ~5 at 50 ms
    # on a loaded 2-core machine); with caps of 2,000/300 the naive runs alone took ~10
    # of the full run's 16.6 minutes. Its figures are per lead, so a smaller sample keeps
    # them and the full run under 15 minutes.
    return [
        Scenario("1,000 new, campaign, 0 ms", 0, 1_000, 0, 500),
        Scenario("1,000 new, campaign, 50 ms", 0, 1_000, 50, 150),
        Scenario("10,000 new, campaign, 0 ms", 0, 10_000, 0, 500),
        Scenario("10,000 new, campaign, 50 ms", 0, 10_000, 50, 150),
        Scenario("100,000 new in 1,000,000, 0 ms", 900_000, 100_000, 0, 500),
        Scenario("100,000 new in 1,000,000, 50 ms", 900_000, 100_000, 50, 150),
    ], (50, 20)


@dataclass
class Results:
    rows: list[Row] = field(default_factory=list)
    naive: list[Row] = field(default_factory=list)
    scheduled: list[Repeated] = field(default_factory=list)
    validate: list[Repeated] = field(default_factory=list)
    plans: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    jobs: list[JobsRun] = field(default_factory=list)
    pushes: list[dict[str, Any]] = field(default_factory=list)

    def jobs_pair(self, build: str) -> tuple[JobsRun, JobsRun] | None:
        """(--jobs 1, --jobs 8) of one build, when both ran."""
        one = next((j for j in self.jobs if j.build == build and j.jobs == 1), None)
        eight = next((j for j in self.jobs if j.build == build and j.jobs == 8), None)
        return (one, eight) if one and eight else None


def report(console: Console, res: Results, builds: list[str], *, quick: bool) -> None:
    table = Table(
        title=f"leadsync sync benchmark ({platform.machine()}, {platform.python_version()})"
    )
    for col in (
        "scenario",
        "build",
        "new leads",
        "DD calls",
        "SF calls",
        "calls/1k leads",
        "wall s",
        "CPU s",
        "CPU ms/lead",
        "peak RSS MB",
        "leads/s",
        "note",
    ):
        table.add_column(col, justify="left" if col in ("scenario", "build", "note") else "right")
    for r in [*res.rows, *res.naive]:
        table.add_row(
            r.scenario,
            r.build,
            f"{r.leads:,}",
            f"{r.dd_calls:,}",
            f"{r.sf_calls:,}",
            f"{r.per_1000:,.1f}",
            f"{r.wall_s:.2f}",
            f"{r.cpu_s:.2f}",
            f"{r.cpu_s * 1000 / max(r.leads, 1):.3f}",
            f"{r.rss_mb:.0f}",
            f"{r.leads_per_s:,.0f}",
            r.note,
        )
    console.print(table)
    after = [r for r in res.rows if r.build == builds[-1]]
    slow = [(r, n) for r, n in zip(after, res.naive, strict=False) if "50 ms" in r.scenario]
    if slow and len(after) == len(res.naive):
        # Full run: the 10,000-lead scenario at 50 ms; quick run: the only 50 ms scenario.
        r, n = slow[0] if quick else slow[1]
        console.print(
            f"ratio at 50 ms ({r.scenario}): naive calls / leadsync calls per lead = "
            f"{n.per_1000 / r.per_1000:,.1f}x; naive wall / leadsync wall per lead = "
            f"{(n.wall_s / n.leads) / (r.wall_s / r.leads):,.1f}x"
        )
    for rep in [*res.scheduled, *res.validate]:
        console.print(f"{rep.what} ({rep.build}): {rep.describe()}")
    for label in builds:
        pair = res.jobs_pair(label)
        if pair:
            one, eight = pair
            console.print(
                f"{one.accounts} accounts x {one.leads // max(one.accounts, 1):,} new leads at "
                f"50 ms ({label}): --jobs 1 {one.wall_s:.1f} s wall, {one.cpu_s:.1f} s CPU "
                f"(emulator {one.emulator_cpu_s:.1f} s), {one.calls:,} calls, {one.leads:,} "
                f"Leads; --jobs 8 {eight.wall_s:.1f} s wall, {eight.cpu_s:.1f} s CPU (emulator "
                f"{eight.emulator_cpu_s:.1f} s), {eight.calls:,} calls, {eight.leads:,} Leads: "
                f"{one.wall_s / eight.wall_s:.2f}x faster"
            )
    for label, plan in res.plans:
        console.print(
            f"plan ({label}): {plan['accounts']} accounts, {plan['books']} books, 10 mapping "
            f"rows each: Dotdigital {plan['dd_calls']} calls ({plan['dd_calls'] / plan['accounts']:.1f}"
            f" per account), Salesforce {plan['sf_calls']} calls, {plan['wall_s']:.2f} s wall"
        )
    for p in res.pushes:
        console.print(push_line(p))
    console.print(targets_table(res, builds, quick=quick))


def push_line(p: dict[str, Any]) -> str:
    return (
        f"push: {p['members']:,} Campaign members (half Leads, half Contacts) into an empty "
        f"book, clear_address_books {str(p['clear']).lower()}: "
        f"{p['sf_calls'] + p['dd_calls']} API calls (Salesforce {p['sf_calls']}, Dotdigital "
        f"{p['dd_calls']}), {p['wall_s']:.2f} s wall, {p['cpu_s']:.2f} s CPU, "
        f"{p['rss_mb']:.0f} MB peak RSS; the next run (re-reads the overlap window): "
        f"Salesforce {p['next_sf_calls']}, Dotdigital {p['next_dd_calls']} calls; then an "
        f"idle run: Salesforce {p['idle_sf_calls']}, Dotdigital {p['idle_dd_calls']} calls"
    )


def targets_table(res: Results, builds: list[str], *, quick: bool) -> Table:
    """The issue's performance table: each figure per build, the target, and whether the
    working tree (the last build) meets it. A figure whose scenario did not run says so."""
    scenario = "1,000 new, campaign, 0 ms" if quick else TARGET_SCENARIO
    table = Table(title=f"targets (figures at {scenario} unless said)")
    table.add_column("figure")
    for label in builds:
        table.add_column(label, justify="right")
    table.add_column("target", justify="right")
    table.add_column("met", justify="left")

    def row_of(build: str, name: str) -> Row | None:
        return next((r for r in res.rows if r.build == build and r.scenario == name), None)

    def rep_of(reps: list[Repeated], build: str) -> Repeated | None:
        return next((r for r in reps if r.build == build), None)

    figures: list[tuple[str, Any, float | None, str]] = [
        (
            "API calls per 1,000 leads",
            lambda b: (r := row_of(b, scenario)) and r.per_1000,
            3.0,
            "{:.1f}",
        ),
        (
            "CPU per lead, whole process incl. start-up (ms)",
            lambda b: (r := row_of(b, scenario)) and r.cpu_s * 1000 / r.leads,
            0.1,
            "{:.3f}",
        ),
        (
            f"peak RSS MB ({RSS_SCENARIO})",
            lambda b: (r := row_of(b, RSS_SCENARIO)) and r.rss_mb,
            100.0,
            "{:.0f}",
        ),
        ("JOBS", None, None, ""),
        (
            "scheduled sync of 10 new leads, whole-process CPU s: median (min)",
            lambda b: (r := rep_of(res.scheduled, b)) and r.cpu,
            0.3,
            "{:.3f}",
        ),
        (
            "leadsync validate wall s: median (min)",
            lambda b: (r := rep_of(res.validate, b)) and r.wall,
            0.15,
            "{:.3f}",
        ),
        (
            "leadsync validate CPU s: median (min)",
            lambda b: (r := rep_of(res.validate, b)) and r.cpu,
            None,
            "{:.3f}",
        ),
    ]
    for name, get, target, fmt in figures:
        if name == "JOBS":
            table.add_row(*_jobs_row(res, builds))
            continue
        values = [get(b) for b in builds]
        cells = [fmt.format(v) if v else "not run" for v in values]
        if name.endswith("median (min)"):  # the least disturbed run beside it
            reps = res.scheduled if name.startswith("scheduled") else res.validate
            for i, b in enumerate(builds):
                r = rep_of(reps, b)
                if r is not None:
                    low = min(r.cpu_s if "CPU" in name else r.wall_s)
                    cells[i] += f" ({fmt.format(low)})"
        last = values[-1]
        met = "" if target is None or not last else ("yes" if last <= target else "no")
        if quick and met and ("per lead" in name or "per 1,000" in name):
            met = "judged at 10,000 (make bench)"  # a small run's fixed costs dominate
        table.add_row(name, *cells, f"<= {target:g}" if target is not None else "", met)
    return table


def _jobs_row(res: Results, builds: list[str]) -> list[str]:
    cells, met = [], ""
    for label in builds:
        pair = res.jobs_pair(label)
        if pair is None:
            cells.append(
                "not run" if any(j.build == label for j in res.jobs) or not res.jobs else "n/a"
            )
            continue
        one, eight = pair
        same = one.calls == eight.calls and one.leads == eight.leads
        cells.append(f"{one.wall_s / eight.wall_s:.2f}x, calls {'equal' if same else 'differ'}")
        if label == builds[-1]:
            met = "yes" if one.wall_s / eight.wall_s >= 5 and same else "no"
    shape = res.jobs[0] if res.jobs else None
    name = (
        f"{shape.accounts} accounts x {shape.leads // max(shape.accounts, 1):,} at 50 ms, "
        "--jobs 8 vs --jobs 1 (wall)"
        if shape
        else "100 accounts x 1,000 at 50 ms, --jobs 8 vs --jobs 1 (wall)"
    )
    return [name, *cells, ">= 5x, same calls", met]


if __name__ == "__main__":
    main()
