"""How fast `leadsync ui` answers over a large ledger (issue 16: a filtered records page over
100,000 ledger rows in under 300 ms).

`make bench-ui` (or `python bench/ui.py --rows N`). Builds a SQLite state with N ledger rows
through leadsync's own store (4 address books, the outcome mix of a real book: mostly created,
some already in Salesforce, skipped, failed, pending, baseline), 50 run reports, starts
`leadsync ui --state sqlite:...` as its own process, and times each page from this process over
HTTP (wall time from request to the last byte: what the browser waits for), after one warm-up
request. Every figure is measured in this run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from leadsync.state.model import AppliedState, HistoryEntry, LedgerEntry
from leadsync.state.sqlite import SqliteStore

STATES = (
    ["created"] * 60
    + ["excluded"] * 20
    + ["skipped"] * 8
    + ["failed"] * 5
    + ["pending"]
    + ["baseline"] * 6
)
CODES = {
    "excluded": "EXISTING_LEAD",
    "skipped": "MISSING_FIELDS",
    "failed": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
}
RUNS = 50
TARGET_MS = 300


def build_state(path: Path, rows: int) -> None:
    store = SqliteStore(path)
    rnd = random.Random(16)
    entries = []
    for i in range(rows):
        state = rnd.choice(STATES)
        entries.append(
            LedgerEntry(
                account="uk",
                book_id=1 + i % 4,
                contact_id=10_000 + i,
                email=f"person{i}@example{i % 7}.com",
                state=state,  # type: ignore[arg-type]
                reason_code=CODES.get(state),
                reason=f"{CODES[state].lower()} for person {i}" if state in CODES else None,
                lead_id=f"00Q{i:015d}" if state == "created" else None,
                last_run=f"20261101T{i % RUNS:06d}Z-bench0",
                extra={
                    "values": {
                        "FIRSTNAME": f"First{i}",
                        "LASTNAME": f"Last{i}",
                        "COMPANY": f"Co {i}",
                    }
                },
            )
        )
    store.ledger_put(entries)
    store.commit_apply(*applied(), expected_lineage=None, expected_serial=0)
    for r in range(RUNS):
        run_id = f"20261101T{r:06d}Z-bench0"
        totals = {"seen": rows // RUNS, "created": rows // RUNS}
        store.save_run(
            run_id,
            {
                "run_id": run_id,
                "started_at": f"2026-11-01T{r // 60:02d}:{r % 60:02d}:00Z",
                "status": "done",
                "totals": totals,
                "books": [],
                "api_calls": {"salesforce": 9, "dotdigital": 4},
            },
        )
    store.close()


def applied() -> tuple[AppliedState, HistoryEntry]:
    """An applied state naming the 4 books (as `leadsync apply` records them)."""
    books = [{"id": b, "name": f"Book {b}", "create_leads": True} for b in range(1, 5)]
    state = AppliedState(
        lineage="bench",
        serial=1,
        config={"salesforce": {"instance_url": "https://bench.my.salesforce.com"}},
        resolved={"accounts": {"uk": {"books": books}}},
        fingerprints={},
        config_sha256="0" * 64,
        applied_at="2026-11-01T00:00:00+00:00",
        applied_by="bench",
        salt="bench",
    )
    entry = HistoryEntry(
        1, "bench", state.applied_at, "bench", "bench", None, "0" * 64, {"create": 4}
    )
    return state, entry


def cpu_ms(pid: int) -> float:
    """User + system CPU the process has used so far (Linux /proc), in milliseconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def start_ui(state: Path, work: Path) -> tuple[subprocess.Popen, str]:
    ready = work / "ready.json"
    leadsync = str(Path(sys.executable).with_name("leadsync"))
    proc = subprocess.Popen(
        [leadsync, "ui", "--state", f"sqlite:{state}", "--port", "0", "--ready-file", str(ready)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    proc.stdout.readline()  # printed once it serves
    return proc, json.loads(ready.read_text())["url"]


def timed(
    session: requests.Session, url: str, repeat: int, pid: int
) -> tuple[float, float, float, int]:
    """(median wall ms, max wall ms, server CPU ms per request, bytes) of `repeat` GETs after
    one warm-up. CPU time is the server's own (it barely moves when other work shares the
    machine); wall time is what the browser waits for."""
    session.get(url, timeout=60).raise_for_status()
    times, size = [], 0
    cpu_before = cpu_ms(pid)
    for _ in range(repeat):
        start = time.perf_counter()
        r = session.get(url, timeout=60)
        size = len(r.content)
        times.append((time.perf_counter() - start) * 1000)
        r.raise_for_status()
    cpu = (cpu_ms(pid) - cpu_before) / repeat
    return statistics.median(times), max(times), cpu, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="leadsync-bench-ui-"))
    state = work / "state.db"
    started = time.perf_counter()
    build_state(state, args.rows)
    print(
        f"state: {args.rows:,} ledger rows, {RUNS} runs, built in {time.perf_counter() - started:.1f} s"
    )
    proc, url = start_ui(state, work)
    pages = [
        ("records, no filter (first page)", "records"),
        ("records, state=failed", "records?state=failed"),
        (
            "records, state=created, book 2, a page deep in the book",
            "records?state=created&book=2&after=2.60000.uk",
        ),
        ("records, email search 'person4242'", "records?q=person4242"),
        ("records, email search with no match", "records?q=nobody"),
        (
            "records, reason + book + run",
            "records?reason=MISSING_FIELDS&book=3&run=20261101T000007Z-bench0",
        ),
        ("overview", ""),
        ("runs (chart + table)", "runs"),
        ("CSV export, state=failed (all rows)", "records.csv?state=failed"),
    ]
    print(f"{'page':58} {'median ms':>10} {'max ms':>8} {'CPU ms':>7} {'KiB':>7}")
    worst = worst_cpu = 0.0
    try:
        with requests.Session() as session:
            for label, path in pages:
                median, slowest, cpu, size = timed(session, url + path, args.repeat, proc.pid)
                if path.startswith("records?"):
                    worst, worst_cpu = max(worst, median), max(worst_cpu, cpu)
                print(f"{label:58} {median:10.1f} {slowest:8.1f} {cpu:7.1f} {size / 1024:7.1f}")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    verdict = "met" if worst < TARGET_MS else "NOT met"
    print(
        f"slowest filtered records page: {worst:.0f} ms median wall, {worst_cpu:.0f} ms server CPU "
        f"(target < {TARGET_MS} ms: {verdict}); {platform.machine()}, CPython "
        f"{platform.python_version()}, {args.repeat} requests each, load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    main()
