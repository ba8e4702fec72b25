"""Scale: a first apply that baselines a 200,000-member book in one transaction.

(The 1,000,000-member book is the benchmark's memory scenario in bench/; the suite keeps a size
that proves streaming and chunking without costing every `make test` two minutes of CPU.)

Prints the time (no timing assertion: CI machines vary); asserts the result is complete and
that the ledger answers the sync's questions quickly enough to be usable at that size.
"""

from __future__ import annotations

import time

import pytest

from leadsync.state.model import AppliedState, HistoryEntry, LedgerEntry

MEMBERS = 200_000


@pytest.mark.slow
def test_large_baseline_commit(store, capsys):
    def members():
        for i in range(MEMBERS):
            yield LedgerEntry("uk", 42, 10_000_000 + i, f"m{i}@example.com", "baseline")

    state = AppliedState("lin", 1, {}, {}, {}, "sha", "2026-01-01T00:00:00Z", "ci", "salt")
    entry = HistoryEntry(1, "lin", "2026-01-01T00:00:00Z", "ci", "host", None, "sha", {})
    started, cpu = time.perf_counter(), time.process_time()
    store.commit_apply(
        state,
        entry,
        expected_lineage=None,
        expected_serial=0,
        baseline=members(),
        watermarks={("uk", 42): "2026-01-01T00:00:00Z"},
    )
    commit, cpu = time.perf_counter() - started, time.process_time() - cpu

    started = time.perf_counter()
    store.ledger_put([LedgerEntry("uk", 42, 1, "new@example.com", "pending", attempt="r1")])
    got = store.ledger_get("uk", 42, range(10_000_000, 10_005_000))
    doubt = store.ledger_in_doubt("uk")
    pending = list(store.ledger_iter("uk", 42, ["pending"]))
    queries = time.perf_counter() - started
    with capsys.disabled():
        print(
            f"\n[{store.backend}] {MEMBERS:,}-row baseline commit_apply: {commit:.1f}s "
            f"(this process's CPU: {cpu:.1f}s); "
            f"put+get 5k+in-doubt+pending on top of it: {queries:.2f}s"
        )
    assert store.ledger_counts("uk") == {("uk", 42, "baseline"): MEMBERS, ("uk", 42, "pending"): 1}
    assert len(got) == 5000
    assert [e.contact_id for e in doubt] == [1]
    assert [e.contact_id for e in pending] == [1]
