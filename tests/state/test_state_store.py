"""The StateStore contract, run against every backend (real SQLite file / real PostgreSQL)."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import threading
import time

import pytest

from leadsync.state import LockHeld, StaleState, codec
from leadsync.state.migrations import POSTGRES_STEPS, SQLITE_STEPS, latest_version
from leadsync.state.model import AppliedState, HistoryEntry, JsonDict, LedgerEntry, PushEntry
from leadsync.state.sqlstore import PAGE_ROWS

LINEAGE = "8f0c1f2e-1111-4222-8333-944455556666"


def applied(serial: int, lineage: str = LINEAGE, **over) -> AppliedState:
    values = dict(
        lineage=lineage,
        serial=serial,
        config={"accounts": {"uk": {"books": ["Webinar signups"]}}, "version": 1},
        resolved={"uk": {"Webinar signups": 42}},
        fingerprints={"salesforce.Lead": "sha256:ab"},
        config_sha256=f"sha-{serial}",
        applied_at=f"2026-01-0{serial}T10:00:00+00:00",
        applied_by="alice",
        salt="s4lt",
    )
    values.update(over)
    return AppliedState(**values)


def hist(serial: int, lineage: str = LINEAGE) -> HistoryEntry:
    return HistoryEntry(
        serial=serial,
        lineage=lineage,
        applied_at=f"2026-01-0{serial}T10:00:00+00:00",
        applied_by="alice",
        host="ci-runner",
        git_commit="abc123" if serial % 2 else None,
        config_sha256=f"sha-{serial}",
        summary={"create": serial, "update": 0, "delete": 0, "no-op": 1},
        ci=CI if serial % 2 == 0 else None,
        git_error=None if serial % 2 else "detected dubious ownership in repository at '/w'",
    )


CI = {
    "system": "github",
    "actor": "octocat",
    "run_url": "https://github.com/o/r/actions/runs/42",
    "commit": "c0ffee",
}


def entry(contact_id: int, state="pending", account="uk", book_id=42, **over) -> LedgerEntry:
    return LedgerEntry(
        account=account,
        book_id=book_id,
        contact_id=contact_id,
        email=f"member{contact_id}@example.com",
        state=state,
        **over,
    )


def first_apply(store, **kwargs) -> None:
    store.commit_apply(applied(1), hist(1), expected_lineage=None, expected_serial=0, **kwargs)


def snapshot(store) -> tuple:
    """Everything observable, to prove a refused write changed nothing."""
    return (
        store.read_applied(),
        store.history(),
        store.ledger_counts(),
        store.watermarks(),
    )


# --- applied state and history -------------------------------------------------------------


def test_fresh_store_is_empty(store):
    assert store.read_applied() is None
    assert store.history() == []
    assert store.runs() == []
    assert store.lock_holders() == []
    assert store.is_empty()


def test_commit_apply_round_trips_state_and_history(store, open_store_again):
    first_apply(store, watermarks={("uk", 42): "2026-01-01T10:00:00Z"})
    store.commit_apply(applied(2), hist(2), expected_lineage=LINEAGE, expected_serial=1)

    other = open_store_again()  # another process sees the committed state
    assert other.read_applied() == applied(2)
    assert other.history() == [hist(2), hist(1)]  # newest first
    assert other.history(limit=1) == [hist(2)]
    assert other.watermark("uk", 42) == "2026-01-01T10:00:00Z"


@pytest.mark.parametrize(
    ("lineage", "serial"),
    [(LINEAGE, 0), (LINEAGE, 2), ("another-lineage", 1), (None, 0)],
    ids=["older-serial", "newer-serial", "other-lineage", "expects-no-state"],
)
def test_stale_serial_or_lineage_is_refused_and_nothing_written(store, lineage, serial):
    first_apply(store)
    before = snapshot(store)
    with pytest.raises(StaleState, match="changed since it was read"):
        store.commit_apply(
            applied(serial + 1, lineage=lineage or LINEAGE),
            hist(serial + 1),
            expected_lineage=lineage,
            expected_serial=serial,
            baseline=[entry(1, "baseline")],
            watermarks={("uk", 42): "2026-02-01T00:00:00Z"},
        )
    assert snapshot(store) == before


def test_expecting_a_state_that_does_not_exist_is_stale(store):
    with pytest.raises(StaleState, match="holds no applied state"):
        store.commit_apply(applied(2), hist(2), expected_lineage=LINEAGE, expected_serial=1)
    assert store.is_empty()


def test_new_state_must_advance_serial_and_keep_lineage(store):
    first_apply(store)
    with pytest.raises(ValueError, match="serial above 1"):
        store.commit_apply(applied(1), hist(1), expected_lineage=LINEAGE, expected_serial=1)
    with pytest.raises(ValueError, match="keep lineage"):
        store.commit_apply(
            applied(2, lineage="x"), hist(2), expected_lineage=LINEAGE, expected_serial=1
        )
    assert store.read_applied() == applied(1)


def test_concurrent_applies_from_the_same_serial_one_wins(open_store_again):
    """Two appliers read serial 1 and both try to write serial 2: exactly one succeeds."""
    first_apply(open_store_again())
    stores = [open_store_again(), open_store_again()]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def apply(store, who):
        barrier.wait()
        try:
            store.commit_apply(
                applied(2, applied_by=who), hist(2), expected_lineage=LINEAGE, expected_serial=1
            )
            outcomes.append("ok")
        except StaleState:
            outcomes.append("stale")

    threads = [threading.Thread(target=apply, args=(s, f"w{i}")) for i, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ok", "stale"]
    assert len(stores[0].history()) == 2


def test_baseline_and_watermarks_commit_with_the_state(store):
    first_apply(
        store,
        baseline=(entry(i, "baseline") for i in range(1, 2501)),
        watermarks={("uk", 42): "2026-01-01T10:00:00Z", ("us", 7): "2026-01-01T11:00:00Z"},
    )
    assert store.ledger_counts() == {("uk", 42, "baseline"): 2500}
    assert store.watermarks() == {
        ("uk", 42): "2026-01-01T10:00:00Z",
        ("us", 7): "2026-01-01T11:00:00Z",
    }


def test_a_failing_baseline_generator_writes_nothing(store):
    def members():
        yield from (entry(i, "baseline") for i in range(25_000))  # several chunks
        raise RuntimeError("Dotdigital went away mid-listing")

    with pytest.raises(RuntimeError):
        first_apply(store, baseline=members(), watermarks={("uk", 42): "t"})
    assert store.is_empty()


def test_baseline_rows_with_details_keep_them(store):
    detailed = entry(9, "baseline", origin="salesforce", extra={"note": "imported"}, fields=("X",))
    first_apply(store, baseline=[entry(8, "baseline"), detailed])
    got = store.ledger_get("uk", 42, [8, 9])
    assert got[9].extra == {"note": "imported"}
    assert (got[9].origin, got[9].fields) == ("salesforce", ("X",))
    assert (got[8].origin, got[8].fields, got[8].extra, got[8].tries) == ("dotdigital", (), {}, 0)


def test_baseline_never_demotes_a_member_the_sync_handled(store):
    store.ledger_put([entry(5, "created", lead_id="00Q000000000001AAA")])
    first_apply(store, baseline=[entry(5, "baseline"), entry(6, "baseline")])
    got = store.ledger_get("uk", 42, [5, 6])
    assert got[5].state == "created"
    assert got[5].lead_id == "00Q000000000001AAA"
    assert got[6].state == "baseline"


# --- ledger -----------------------------------------------------------------------------------


def test_ledger_round_trips_every_field(store):
    full = entry(
        7,
        "failed",
        attempt=None,
        lead_id=None,
        matched_id="003000000000007AAA",
        reason_code="FIELD_CUSTOM_VALIDATION_EXCEPTION",
        reason="Industry: bad value 'Zürich, \"Ltd\"'",
        fields=("Industry", "Company"),
        data_hash="sha256:123",
        campaign_id="701000000000001AAA",
        campaign_member_id=None,
        origin="salesforce",
        tries=3,
        first_run="run-1",
        last_run="run-3",
        updated_at="2026-01-03T10:00:00+00:00",
        extra={"bulk_job": "750xx", "values": {"COMPANY": "Ünïcødé"}, "n": [1, 2.5, None]},
        attempted_at="2026-01-03T09:59:58Z",
    )
    store.ledger_put([full])
    assert store.ledger_get("uk", 42, [7]) == {7: full}


def test_ledger_put_fills_updated_at_and_upserts(store):
    store.ledger_put([entry(1), entry(2)])
    first = store.ledger_get("uk", 42, [1])[1]
    assert first.updated_at  # the store stamps the write time when the caller did not
    store.ledger_put([entry(1, "created", lead_id="00Q1", tries=1)])
    got = store.ledger_get("uk", 42, [1, 2, 3])
    assert set(got) == {1, 2}
    assert (got[1].state, got[1].lead_id, got[1].tries) == ("created", "00Q1", 1)


def test_ledger_keys_are_per_account_and_book(store):
    store.ledger_put([entry(1, account="uk"), entry(1, account="us"), entry(1, book_id=43)])
    assert store.ledger_get("uk", 42, [1])[1].account == "uk"
    assert store.ledger_get("us", 42, [1])[1].account == "us"
    assert store.ledger_get("uk", 43, [1])[1].book_id == 43
    assert store.ledger_get("de", 42, [1]) == {}


def test_ledger_known_names_members_with_an_entry_in_any_state(store):
    store.ledger_put([entry(1, "baseline"), entry(2, "created"), entry(3, book_id=43)])
    ids = [*range(0, 2500), 1, 2]  # more ids than one query carries; repeats are harmless
    assert store.ledger_known("uk", 42, ids) == {1, 2}
    assert store.ledger_known("uk", 43, [3, 4]) == {3}
    assert store.ledger_known("us", 42, [1]) == set()
    assert store.ledger_known("uk", 42, []) == set()


def test_ledger_rejects_unknown_state_and_writes_nothing(store):
    with pytest.raises(ValueError, match="ledger state 'done'"):
        store.ledger_put([entry(1), entry(2, state="done")])
    assert store.ledger_get("uk", 42, [1, 2]) == {}


def test_ledger_in_doubt_lists_rows_with_an_attempt(store):
    store.ledger_put(
        [
            entry(1, attempt="run-1/batch-3"),
            entry(2),
            entry(3, attempt="bulk:750xx", book_id=41),
            entry(4, attempt="run-1/batch-3", account="us"),
        ]
    )
    assert [(e.book_id, e.contact_id) for e in store.ledger_in_doubt("uk")] == [(41, 3), (42, 1)]
    store.ledger_put([entry(1, "created", lead_id="00Q1")])  # resolved: attempt cleared
    assert [e.contact_id for e in store.ledger_in_doubt("uk")] == [3]


def test_ledger_5000_rows_put_and_get_in_one_go(store, capsys):
    entries = [entry(i, "pending", attempt="run-9") for i in range(100_000, 105_000)]
    started = time.perf_counter()
    store.ledger_put(entries)
    put = time.perf_counter() - started
    started = time.perf_counter()
    got = store.ledger_get("uk", 42, [e.contact_id for e in entries] + [1, 2])
    get = time.perf_counter() - started
    with capsys.disabled():
        print(
            f"\n[{store.backend}] ledger_put 5,000 rows: {put:.3f}s; ledger_get 5,000 ids: {get:.3f}s"
        )
    assert len(got) == 5000
    assert got[104_999].attempt == "run-9"
    assert got[104_999].email == entries[-1].email


def test_ledger_iter_pages_and_filters_by_state(store, open_store_again):
    n = PAGE_ROWS * 2 + 7
    store.ledger_put(
        [entry(i, "created" if i % 3 else "skipped") for i in range(n)]
        + [entry(1, book_id=99), entry(2, account="us")]
    )
    everything = list(store.ledger_iter("uk", 42))
    assert [e.contact_id for e in everything] == list(range(n))
    skipped = list(store.ledger_iter("uk", 42, ["skipped"]))
    assert [e.contact_id for e in skipped] == list(range(0, n, 3))
    both = list(store.ledger_iter("uk", 42, ["skipped", "created"]))
    assert sorted(e.contact_id for e in both) == list(range(n))
    assert list(store.ledger_iter("uk", 42, ["failed"])) == []


def test_keyset_pages_walk_a_composite_key_across_page_ends(store):
    """paging.pages, the one home of keyset paging (ledger, export, push, links): pages that
    end inside one account and inside one book resume after the last key, on both backends."""
    from leadsync.state.paging import pages

    keys = [("uk", 42, i) for i in range(5)] + [("uk", 43, 1), ("us", 7, 2), ("us", 7, 3)]
    store.ledger_put([entry(c, account=a, book_id=b) for a, b, c in keys])
    select = f"SELECT {', '.join(codec.LEDGER_COLUMNS)} FROM ledger"
    for rows in (1, 2, 3, 7, 8, 100):
        got = pages(store._read_q, select, "", (), codec.LEDGER_KEY, (0, 1, 2), rows)
        assert [(r[0], int(r[1]), int(r[2])) for r in got] == keys
    one_book = pages(
        store._read_q, select, "account = ? AND book_id = ?", ("uk", 42), ("contact_id",), (2,), 2
    )
    assert [int(r[2]) for r in one_book] == [0, 1, 2, 3, 4]


def test_ledger_ids_are_a_states_members_with_no_write_in_flight(store):
    n = PAGE_ROWS * 10 + 3  # more than one page
    store.ledger_put(
        [entry(i, attempt="job-1" if i == 5 else None) for i in range(n)]
        + [entry(n + 1, "created"), entry(n + 2, book_id=99), entry(n + 3, account="us")]
    )
    assert list(store.ledger_ids("uk", 42, "pending")) == [i for i in range(n) if i != 5]
    assert list(store.ledger_ids("uk", 42, "created")) == [n + 1]
    assert list(store.ledger_ids("uk", 42, "failed")) == []


def test_ledger_without_member_is_the_campaign_steps_candidates(store):
    store.ledger_put(
        [
            entry(1, "created", lead_id="00Q1", campaign_id="701A"),
            entry(2, "created", lead_id="00Q2", campaign_id="701A", campaign_member_id="00v2"),
            entry(3, "created", lead_id="00Q3"),  # no campaign
            entry(4, "excluded", matched_id="003A", campaign_id="701A"),
            entry(5, "pending", campaign_id="701A"),
            entry(6, "created", lead_id="00Q6", campaign_id="701A", campaign_member_id=""),
            entry(7, "created", lead_id="00Q7", campaign_id="701A", book_id=99),
        ]
        + [entry(i, "created", lead_id=f"L{i}", campaign_id="701A") for i in range(10, 2010)]
    )
    got = [e.contact_id for e in store.ledger_without_member("uk", 42)]
    assert got == [1, 6, *range(10, 2010), 4]  # created, then excluded, each by id
    assert store.ledger_get("uk", 42, [4])[4].matched_id == "003A"


def test_ledger_without_member_leaves_out_the_entries_a_run_holds(store):
    """The campaign step takes the entries its own run stored from memory and asks the
    store only for the others (`not_run`): those of other runs, or never run."""
    store.ledger_put(
        [
            entry(1, "created", lead_id="00Q1", campaign_id="701A", last_run="r1"),
            entry(2, "created", lead_id="00Q2", campaign_id="701A", last_run="r2"),
            entry(3, "excluded", matched_id="003A", campaign_id="701A", last_run="r2"),
            entry(4, "excluded", matched_id="003B", campaign_id="701A"),
        ]
    )
    got = [e.contact_id for e in store.ledger_without_member("uk", 42, "r2")]
    assert got == [1, 4]
    assert [e.contact_id for e in store.ledger_without_member("uk", 42)] == [1, 2, 3, 4]


def test_ledger_iter_tolerates_writes_while_iterating(store):
    store.ledger_put([entry(i) for i in range(PAGE_ROWS + 10)])
    seen, batch = 0, []
    for e in store.ledger_iter("uk", 42, ["pending"]):
        batch.append(entry(e.contact_id, "created"))
        seen += 1
        if len(batch) == 100:  # like the sync: flush a batch while still reading
            store.ledger_put(batch)
            batch = []
    store.ledger_put(batch)
    assert seen == PAGE_ROWS + 10
    assert store.ledger_counts("uk") == {("uk", 42, "created"): PAGE_ROWS + 10}


def test_ledger_counts_per_account_book_state(store):
    store.ledger_put(
        [entry(1), entry(2), entry(3, "failed"), entry(4, "skipped", account="us", book_id=7)]
    )
    assert store.ledger_counts() == {
        ("uk", 42, "failed"): 1,
        ("uk", 42, "pending"): 2,
        ("us", 7, "skipped"): 1,
    }
    assert store.ledger_counts("us") == {("us", 7, "skipped"): 1}


# --- watermarks and runs ----------------------------------------------------------------------


def test_watermarks(store):
    assert store.watermark("uk", 42) is None
    store.set_watermark("uk", 42, "2026-01-01T10:00:00Z")
    store.set_watermark("uk", 42, "2026-01-02T10:00:00Z")
    store.set_watermark("uk", 43, "2026-01-03T10:00:00Z")
    assert store.watermark("uk", 42) == "2026-01-02T10:00:00Z"
    assert store.watermark("us", 42) is None
    assert store.watermarks() == {
        ("uk", 42): "2026-01-02T10:00:00Z",
        ("uk", 43): "2026-01-03T10:00:00Z",
    }


def test_last_sweep_per_book(store):
    assert store.last_sweep("uk", 42) is None
    store.set_last_sweep("uk", 42, "2026-01-01T10:00:00+00:00")
    store.set_last_sweep("uk", 42, "2026-01-02T10:00:00+00:00")
    store.set_last_sweep("uk", 43, "2026-01-03T10:00:00+00:00")
    assert store.last_sweep("uk", 42) == "2026-01-02T10:00:00+00:00"
    assert store.last_sweep("uk", 43) == "2026-01-03T10:00:00+00:00"
    assert store.last_sweep("us", 42) is None


def test_a_store_written_before_the_sweep_table_is_upgraded_in_place(store, open_store_again):
    """Step 4 (sweeps) runs on a store that has only steps 1-3, keeping what it holds."""
    store.set_watermark("uk", 42, "2026-01-01T10:00:00Z")
    with store._tx() as cur:  # back to what a leadsync before step 4 left behind
        for table in ("sweeps", "push_marks", "push_members", "links", "update_marks"):
            cur.execute(f"DROP TABLE {table}")  # steps 4, 5 and 6 (later ones too)
        cur.execute(store._q("DELETE FROM schema_version WHERE version >= ?"), (4,))
    assert store.schema_version() == 3
    store.close()
    again = open_store_again()
    assert again.schema_version() == latest_version(SQLITE_STEPS) >= 4
    assert again.watermark("uk", 42) == "2026-01-01T10:00:00Z"
    assert again.last_sweep("uk", 42) is None
    again.set_last_sweep("uk", 42, "2026-01-02T10:00:00+00:00")
    assert again.last_sweep("uk", 42) == "2026-01-02T10:00:00+00:00"
    assert again.links_count("uk") == {} and again.update_mark("uk", "salesforce:Lead") is None


def test_a_store_written_before_the_push_tables_is_upgraded_in_place(store, open_store_again):
    """Step 5 (push_members, push_marks) runs on a store that has steps 1-4, keeping it."""
    store.set_watermark("uk", 42, "2026-01-01T10:00:00Z")
    store.set_last_sweep("uk", 42, "2026-01-02T10:00:00+00:00")
    with store._tx() as cur:  # back to what a leadsync before step 5 left behind
        for table in ("push_marks", "push_members", "links", "update_marks"):  # steps 5 and 6
            cur.execute(f"DROP TABLE {table}")
        cur.execute(store._q("DELETE FROM schema_version WHERE version >= ?"), (5,))
    assert store.schema_version() == 4
    store.close()
    again = open_store_again()
    assert again.schema_version() == latest_version(SQLITE_STEPS) >= 5
    assert again.last_sweep("uk", 42) == "2026-01-02T10:00:00+00:00"
    assert again.push_counts() == {} and again.push_mark("uk", 42) is None
    again.push_put([PushEntry("uk", 42, "00v1", "a@example.com", "pushed", values={"X": 1})])
    assert again.push_by_email("uk", ["a@example.com"])["a@example.com"][0].values == {"X": 1}


def test_runs_saved_replaced_and_listed_newest_first(store):
    store.save_run("r1", {"started_at": "2026-01-01T10:00:00Z", "books": [], "status": "running"})
    store.save_run("r2", {"started_at": "2026-01-02T10:00:00Z", "books": [{"seen": 3}]})
    store.save_run("r1", {"started_at": "2026-01-01T10:00:00Z", "books": [], "status": "done"})
    runs = store.runs()
    assert [r["run_id"] for r in runs] == ["r2", "r1"]
    assert runs[1]["status"] == "done"
    assert runs[0]["books"] == [{"seen": 3}]
    assert store.runs(limit=1) == runs[:1]


# --- locks ------------------------------------------------------------------------------------


def test_lock_in_another_store_is_refused_naming_the_holder(open_store_again):
    first, second = open_store_again(), open_store_again()
    with first.lock(["apply"], timeout=0, purpose="apply"):
        holders = second.lock_holders()
        assert [(h.name, h.purpose) for h in holders] == [("apply", "apply")]
        with pytest.raises(LockHeld) as caught, second.lock(["apply"], timeout=0, purpose="apply"):
            pass
        info = caught.value.info
        assert info.name == "apply"
        assert info.purpose == "apply"
        assert info.since and info.host and info.user
        assert "held by" in str(caught.value)
    with second.lock(["apply"], timeout=0, purpose="apply"):
        pass
    assert first.lock_holders() == []


def test_lock_is_all_or_none(open_store_again):
    a, b, c = open_store_again(), open_store_again(), open_store_again()
    with a.lock(["account:us"], timeout=0, purpose="sync"):
        with (
            pytest.raises(LockHeld) as caught,
            b.lock(["apply", "account:uk", "account:us"], timeout=0, purpose="apply"),
        ):
            pass
        assert caught.value.info.name == "account:us"
        # b released what it had taken before giving up: c gets both at once
        with c.lock(["apply", "account:uk"], timeout=0, purpose="apply"):
            assert sorted(h.name for h in a.lock_holders()) == ["account:uk", "account:us", "apply"]


def test_locks_on_different_accounts_do_not_block(open_store_again):
    a, b = open_store_again(), open_store_again()
    with (
        a.lock(["account:uk"], timeout=0, purpose="sync"),
        b.lock(["account:us"], timeout=0, purpose="sync"),
    ):
        assert len(a.lock_holders()) == 2


def test_lock_rejects_a_bare_string(store):
    with pytest.raises(TypeError), store.lock("apply", timeout=0, purpose="apply"):
        pass


def test_lock_held_by_a_killed_process_is_released(store, lock_child):
    child = lock_child(["apply", "account:uk"], "apply")
    with pytest.raises(LockHeld) as caught, store.lock(["account:uk"], timeout=0, purpose="sync"):
        pass
    assert caught.value.info.pid == child.pid
    assert caught.value.info.purpose == "apply"
    assert {h.pid for h in store.lock_holders()} == {child.pid}

    child.kill()
    # The OS (sqlite) or the server (postgres) drops the lock; the server may need a moment to
    # notice the dead client, so wait via the lock's own timeout instead of a sleep.
    with store.lock(["apply", "account:uk"], timeout=30, purpose="apply"):
        assert {h.pid for h in store.lock_holders()} == {os.getpid()}


def test_lock_waits_for_a_release(store, lock_child):
    child = lock_child(["account:uk"])
    with pytest.raises(LockHeld), store.lock(["account:uk"], timeout=0, purpose="sync"):
        pass
    releaser = threading.Thread(target=child.release)
    releaser.start()  # releases before or while we wait; either way the wait ends with the lock
    with store.lock(["account:uk"], timeout=30, purpose="sync"):
        pass
    releaser.join()


OPENER = r"""
import json, sys
spec = json.loads(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()
if spec["backend"] == "sqlite":
    from leadsync.state.sqlite import SqliteStore
    store = SqliteStore(spec["path"])
else:
    from leadsync.state.postgres import PostgresStore
    store = PostgresStore(spec["dsn"], schema=spec["schema"])
store.save_run(f"run-{sys.argv[2]}", {"n": int(sys.argv[2])})
print("version", store.schema_version(), flush=True)
"""


def test_processes_opening_a_fresh_store_at_once_all_succeed(store_spec, open_store_again):
    """Migrations are safe when several runners start on a fresh store at the same moment."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", OPENER, json.dumps(store_spec), str(i)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    for proc in procs:
        assert proc.stdout.readline().strip() == "ready"
    for proc in procs:  # release them as close together as the pipes allow
        proc.stdin.write("go\n")
        proc.stdin.flush()
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        steps = SQLITE_STEPS if store_spec["backend"] == "sqlite" else POSTGRES_STEPS
        assert out.strip() == f"version {latest_version(steps)}"
    assert latest_version(SQLITE_STEPS) == latest_version(POSTGRES_STEPS)  # one schema, two SQLs
    store = open_store_again()
    assert sorted(r["run_id"] for r in store.runs()) == [f"run-{i}" for i in range(4)]


def test_a_store_of_schema_version_1_is_upgraded_and_its_history_kept(store_spec, open_store_again):
    """A state written by leadsync 0.1.0 (schema version 1) opens with this one: the new
    history columns are added and the old rows read back with no CI identity."""
    old_row = ("lin-0", "2026-01-01T00:00:00+00:00", "bob", "h", "abc", "sha", '{"create":1}')
    insert = (
        "INSERT INTO history (serial, lineage, applied_at, applied_by, host, git_commit, "
        "config_sha256, summary) VALUES (1, {})".format(", ".join(["%s"] * 7))
    )
    if store_spec["backend"] == "sqlite":
        import sqlite3
        from pathlib import Path

        Path(store_spec["path"]).parent.mkdir(parents=True)
        con = sqlite3.connect(store_spec["path"])
        with con:
            con.execute(
                "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT)"
            )
            for statement in SQLITE_STEPS[0][1]:
                con.execute(statement)
            con.execute("INSERT INTO schema_version VALUES (1, 'then')")
            con.execute(insert.replace("%s", "?"), old_row)
        con.close()
        steps = SQLITE_STEPS
    else:
        import psycopg
        from psycopg import sql

        with psycopg.connect(store_spec["dsn"], autocommit=True) as con:
            con.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(store_spec["schema"])))
            con.execute(
                sql.SQL("SET search_path TO {}").format(sql.Identifier(store_spec["schema"]))
            )
            con.execute(
                "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT)"
            )
            for statement in POSTGRES_STEPS[0][1]:
                con.execute(statement)
            con.execute("INSERT INTO schema_version VALUES (1, 'then')")
            con.execute(insert, old_row)
        steps = POSTGRES_STEPS
    store = open_store_again()
    assert store.schema_version() == latest_version(steps)
    [old] = store.history()
    assert (old.serial, old.git_commit, old.summary) == (1, "abc", {"create": 1})
    assert (old.ci, old.git_error) == (None, None)
    store.commit_apply(applied(1), hist(2), expected_lineage=None, expected_serial=0)
    assert store.history()[0] == hist(2)


# --- schema migrations -----------------------------------------------------------------------

V1_ROW = (
    "INSERT INTO ledger (account, book_id, contact_id, email, state, attempt, updated_at) "
    "VALUES ('uk', 42, {cid}, 'm{cid}@example.com', 'pending', {attempt}, '2026-01-03T10:00:00Z')"
)


def _v1_store(spec) -> None:
    """A state written by leadsync before step 3 (no ledger.attempted_at), with one write in
    doubt and one plain pending member, through the backend's own driver."""
    if spec["backend"] == "sqlite":
        import sqlite3

        os.makedirs(os.path.dirname(spec["path"]), exist_ok=True)
        conn = sqlite3.connect(spec["path"])
        conn.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT)")
        statements, record = SQLITE_STEPS[0][1], "INSERT INTO schema_version VALUES (1, 'x')"
    else:
        import psycopg

        schema = spec["schema"]
        conn = psycopg.connect(spec["dsn"], autocommit=True)
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute(f'SET search_path TO "{schema}"')
        conn.execute(
            "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, "
            "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        statements, record = POSTGRES_STEPS[0][1], "INSERT INTO schema_version VALUES (1)"
    for statement in [*statements, record]:
        conn.execute(statement)
    conn.execute(V1_ROW.format(cid=1, attempt="'coll:run-1:ab12cd34'"))
    conn.execute(V1_ROW.format(cid=2, attempt="NULL"))
    conn.commit()
    conn.close()


def test_step_3_gives_writes_in_doubt_their_attempt_time(store_spec, open_store_again):
    """Upgrading keeps a write in doubt datable: its attempt time is the write-ahead mark's
    updated_at (so the grace period of an older in-doubt create still counts from its send)."""
    _v1_store(store_spec)
    store = open_store_again()
    assert store.schema_version() == latest_version(SQLITE_STEPS)
    got = store.ledger_get("uk", 42, [1, 2])
    assert (got[1].attempt, got[1].attempted_at) == ("coll:run-1:ab12cd34", "2026-01-03T10:00:00Z")
    assert (got[2].attempt, got[2].attempted_at) == (None, None)


def test_a_read_only_extra_is_stored_and_read_back_as_its_values(store):
    """A new member's `extra` is one JsonDict through its transitions, encoded once: what is
    stored is its values, whichever transition wrote it last, and it cannot change in place."""
    extra = JsonDict(values={"FIRSTNAME": "Ada", "COUNT": 3, "NONE": None}, raw_email="A@x.io")
    store.ledger_put([entry(1, extra=extra)])
    store.ledger_put([entry(1, "created", lead_id="00Q1", extra=extra)])  # the same object again
    store.ledger_put([entry(2, extra={**extra, "pushed": {"book": "B"}})])  # a new dict
    got = store.ledger_get("uk", 42, [1, 2])
    assert got[1].extra == {"values": {"FIRSTNAME": "Ada", "COUNT": 3, "NONE": None},
                            "raw_email": "A@x.io"}  # fmt: skip
    assert got[1].state == "created"
    assert got[2].extra["pushed"] == {"book": "B"} and got[2].extra["raw_email"] == "A@x.io"
    with pytest.raises(TypeError):
        extra["raw_email"] = "b@x.io"
    assert copy.deepcopy(extra) == extra
