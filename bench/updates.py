"""Field-update benchmark: 10,000 linked people, 10% changed on each side, leadsync vs naive.

`make bench-updates`. One emulator process; leadsync creates and links 10,000 Leads (not
measured), then 1,000 contacts change in Dotdigital (COMPANY, two-way) and 1,000 other Leads
change in Salesforce (FirstName, two-way), and `leadsync sync` is measured: API calls from the
emulators' request logs, CPU and peak RSS from the kernel's rusage of the sync process alone,
wall time. Then an idle run (nothing changed) is measured the same way.

The naive per-record updater (`naive_updates.py`) gets the same changes on a fresh emulator: it
reads what changed in bulk (it is not that naive), but writes one record per request: per
changed contact one SOQL lookup of the Lead by email and one REST PATCH of the Lead, per changed
Lead one v3 PATCH of the contact. It is capped (`--naive-limit`, per side) and its figures are
per changed person.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import requests
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import LEADSYNC, Emulator, Measured, run_measured
from run import ACCOUNT, BOOK, check, config_text, new_members, seed

API = "/services/data/v61.0"


def sf_headers(emu: Emulator) -> dict[str, str]:
    return {"Authorization": f"Bearer {emu.info['salesforce']['access_token']}"}


def dd_auth(emu: Emulator) -> tuple[str, str]:
    creds = emu.info["dotdigital"]["accounts"][ACCOUNT]
    return creds["username"], creds["password"]


def change_dotdigital(emu: Emulator, indexes: range) -> None:
    """Marketers edit COMPANY of these contacts (one v3 import: not part of the measurement)."""
    contacts = [
        {
            "matchIdentifier": "email",
            "identifiers": {"email": f"new{n}@bench.example"},
            "dataFields": {"COMPANY": f"Changed in Dotdigital {n}"},
        }
        for n in indexes
    ]
    r = requests.put(
        f"{emu.dd}/contacts/v3/import",
        json={"mergeOption": "overwrite", "contacts": contacts},
        auth=dd_auth(emu),
        timeout=600,
    )
    r.raise_for_status()
    status = requests.get(
        f"{emu.dd}/contacts/v3/import/{r.json()['importId']}", auth=dd_auth(emu), timeout=600
    ).json()
    if status.get("status") != "Finished":
        raise SystemExit(f"bench: the Dotdigital edit import ended {status}")


def lead_ids(emu: Emulator, indexes: range) -> dict[int, str]:
    out: dict[int, str] = {}
    url = f"{emu.sf}{API}/query/"
    params: dict[str, str] | None = {"q": "SELECT Id, Email FROM Lead"}
    while url:
        body = emu.sf_session.get(url, params=params, headers=sf_headers(emu), timeout=600).json()
        for row in body["records"]:
            n = int(row["Email"].removeprefix("new").split("@")[0])
            if n in indexes:
                out[n] = row["Id"]
        url = emu.sf + body["nextRecordsUrl"] if not body.get("done", True) else ""
        params = None
    return out


def change_salesforce(emu: Emulator, indexes: range) -> None:
    """Salespeople edit FirstName of these Leads (Collections, 200 a call; not measured)."""
    ids = lead_ids(emu, indexes)
    records = [
        {"attributes": {"type": "Lead"}, "id": ids[n], "FirstName": f"Changed in Salesforce {n}"}
        for n in indexes
    ]
    for start in range(0, len(records), 200):
        r = emu.sf_session.patch(
            f"{emu.sf}{API}/composite/sobjects",
            json={"allOrNone": True, "records": records[start : start + 200]},
            headers=sf_headers(emu),
            timeout=600,
        )
        r.raise_for_status()


def linked(emu: Emulator, work: Path, people: int) -> dict[str, str]:
    """Apply, add `people` members and sync until they are Leads and linked (not measured)."""
    (work / "leadsync.yaml").write_text(config_text())
    env = emu.env()
    check(run_measured([*LEADSYNC, "apply", "-c", "leadsync.yaml", "--auto-approve"], env=env, cwd=work), "apply")  # fmt: skip
    new_members(emu, emu.book_id(ACCOUNT, BOOK), people)
    first = run_measured([*LEADSYNC, "sync", "-c", "leadsync.yaml", "--json"], env=env, cwd=work)
    check(first, "first sync")
    if json.loads(first.stdout)["totals"]["created"] != people:
        raise SystemExit("bench: the first sync did not create every Lead")
    return env


def later(emu: Emulator, hours: int) -> None:
    """Dotdigital's clock `hours` ahead: the runs measured here are as far apart as runs on a
    schedule are, so the overlap window (sync.overlap_seconds, 5 minutes) does not re-read the
    10,000 members the setup made a minute ago."""
    emu._control("dotdigital", "POST", "/__emulator/clock", {"offset_seconds": hours * 3600})


def salesforce_clock(emu: Emulator, hours: int) -> None:
    """The org's clock `hours` off. Its answers are dated by the wall clock (the emulator's
    Date header), so the setup is stamped in the past instead: its 10,000 Leads are then
    older than the overlap window, as they would be in an org between scheduled runs."""
    emu._control("salesforce", "POST", "/__emulator/clock", {"offset_seconds": hours * 3600})


def measure(emu: Emulator, env: dict[str, str], work: Path) -> tuple[Measured, dict[str, Any]]:
    emu.reset_logs()
    m = run_measured([*LEADSYNC, "sync", "-c", "leadsync.yaml", "--json"], env=env, cwd=work)
    check(m, "measured sync")
    return m, json.loads(m.stdout)


def run_leadsync(
    people: int, changed: int, work: Path, sides: str = "both"
) -> list[dict[str, Any]]:
    work.mkdir(parents=True)
    with Emulator(seed(0), work / "emulator") as emu:
        salesforce_clock(emu, -2)
        env = linked(emu, work, people)
        later(emu, 1)
        check(run_measured([*LEADSYNC, "sync", "-c", "leadsync.yaml"], env=env, cwd=work), "settle")  # fmt: skip
        later(emu, 2)
        salesforce_clock(emu, 0)
        dd, sf = (
            (changed if sides in ("both", "dotdigital") else 0),
            (changed if sides in ("both", "salesforce") else 0),
        )
        if dd:
            change_dotdigital(emu, range(0, dd))
        if sf:
            change_salesforce(emu, range(changed, changed + sf))
        m, report = measure(emu, env, work)
        t = report["totals"]
        if (t["updated_in_salesforce"], t["updated_in_dotdigital"]) != (dd, sf):
            raise SystemExit(f"bench: expected {dd} / {sf} updates, got {t}")
        what = "each side" if sides == "both" else f"in {sides.capitalize()} only"
        busy = row(f"leadsync: {changed:,} changed {what}", dd + sf, emu, m)
        busy["routes"] = routes(emu)
        later(emu, 3)
        m, report = measure(emu, env, work)
        if any(report["totals"][k] for k in ("updated_in_salesforce", "updated_in_dotdigital")):
            raise SystemExit("bench: the idle run wrote updates")
        idle = row("leadsync: idle run (nothing changed)", 0, emu, m)
    return [busy, idle]


def run_naive(people: int, changed: int, limit: int, work: Path) -> dict[str, Any]:
    work.mkdir(parents=True)
    count = min(changed, limit)
    with Emulator(seed(0), work / "emulator") as emu:
        env = linked(emu, work, people)
        since = requests.get(f"{emu.dd}/v2/server-time", auth=dd_auth(emu), timeout=30).json()
        change_dotdigital(emu, range(0, count))
        change_salesforce(emu, range(changed, changed + count))
        emu.reset_logs()
        naive = str(Path(__file__).resolve().parent / "naive_updates.py")
        m = run_measured(
            [sys.executable, naive, "--account", ACCOUNT, "--book-id",
             str(emu.book_id(ACCOUNT, BOOK)), "--since", since],
            env=env, cwd=work,
        )  # fmt: skip
        check(m, "naive updater")
        note = "" if count == changed else f"ran on {count:,} per side; per-person figures"
        return row("naive per-record updater", 2 * count, emu, m, note)


def routes(emu: Emulator) -> dict[str, int]:
    """Calls per endpoint (the emulators' request logs), for "where the calls go"."""
    out: dict[str, int] = {}
    for service in ("dotdigital", "salesforce"):
        log = emu._control(service, "GET", "/__emulator/requests")
        out.update({f"{service} {k}": v for k, v in sorted(log["counts"].items())})
    return out


def row(name: str, people: int, emu: Emulator, m: Measured, note: str = "") -> dict[str, Any]:
    return {
        "scenario": name,
        "changed": people,
        "dd": emu.calls("dotdigital"),
        "sf": emu.calls("salesforce"),
        "wall": m.wall_s,
        "cpu": m.cpu_s,
        "rss": m.peak_rss_mb,
        "note": note,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--people", type=int, default=10_000)
    ap.add_argument("--share", type=float, default=0.10, help="changed on each side")
    ap.add_argument("--naive-limit", type=int, default=300, help="naive: changes per side")
    ap.add_argument("--no-naive", action="store_true")
    ap.add_argument(
        "--sides", choices=("both", "dotdigital", "salesforce"), default="both",
        help="where the changes are made (both: the share on each side)",
    )  # fmt: skip
    args = ap.parse_args()
    changed = int(args.people * args.share)
    root = Path(tempfile.mkdtemp(prefix="leadsync-bench-updates-"))
    console = Console(width=160)
    try:
        console.print(f"[dim]leadsync: {args.people:,} linked, {changed:,} changed each side[/dim]")
        rows = run_leadsync(args.people, changed, root / "leadsync", args.sides)
        if not args.no_naive:
            console.print("[dim]naive per-record updater ...[/dim]")
            rows.append(run_naive(args.people, changed, args.naive_limit, root / "naive"))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    table = Table(
        title=f"field updates: {args.people:,} linked people, {args.share:.0%} changed on each "
        f"side ({platform.machine()}, {platform.python_version()})"
    )
    for col in ("scenario", "changed", "DD calls", "SF calls", "calls/1k changed", "wall s",
                "CPU s", "peak RSS MB", "note"):  # fmt: skip
        table.add_column(col, justify="left" if col in ("scenario", "note") else "right")
    for r in rows:
        per = (r["dd"] + r["sf"]) * 1000 / r["changed"] if r["changed"] else 0.0
        table.add_row(
            r["scenario"], f"{r['changed']:,}", f"{r['dd']:,}", f"{r['sf']:,}",
            f"{per:,.1f}" if r["changed"] else "-", f"{r['wall']:.2f}", f"{r['cpu']:.2f}",
            f"{r['rss']:.0f}", r["note"],
        )  # fmt: skip
    console.print(table)
    for r in rows:
        if r.get("routes"):
            console.print(f"{r['scenario']}, calls by endpoint:")
            for route, n in r["routes"].items():
                console.print(f"  {n:>4}  {route}")


if __name__ == "__main__":
    main()
