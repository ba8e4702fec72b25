"""The links and update marks of the field-update step (migration step 6), on every backend."""

from __future__ import annotations

from leadsync.state.model import LedgerEntry, Link


def _link(cid: int, **over) -> Link:
    values = dict(
        account="uk",
        contact_id=cid,
        email=f"p{cid}@example.com",
        sobject="Lead",
        record_id=f"00Q8d00000{cid:05d}AAA",
        book_id=7,
    )
    values.update(over)
    return Link(**values)


def test_links_round_trip_every_field(store, open_store_again):
    link = _link(
        1,
        base={"COMPANY": "Acme", "EMPLOYEES": 12, "OPTED": True, "GONE": None},
        sf_seen={"Company": "Acme", "NumberOfEmployees": 12.0},
        dd_seen={"COMPANY": "Acme", "BIRTHDAY": "2024-03-01T00:00:00"},
        outcome="conflict",
        detail={"run": "r1", "fields": [{"field": "Company", "winner": "salesforce"}]},
        attempt=None,
        linked_at="2026-01-01T00:00:00Z",
        last_run="r1",
    )
    store.links_put([link, _link(2)])
    again = open_store_again().links_get("uk", [1, 2, 3])
    got = again[1]
    assert (got.base, got.sf_seen, got.dd_seen) == (link.base, link.sf_seen, link.dd_seen)
    assert (got.outcome, got.detail, got.book_id, got.linked_at) == (
        "conflict",
        link.detail,
        7,
        "2026-01-01T00:00:00Z",
    )
    assert got.updated_at  # the store stamps every write
    assert again[2].sf_seen is None and again[2].dd_seen is None  # not read yet != read empty
    assert set(again) == {1, 2}


def test_links_by_record_outcome_and_count(store):
    store.links_put(
        [
            _link(1, outcome="pending"),
            _link(2, sobject="Contact", record_id="0038d0000000002AAA", outcome="update_failed"),
            _link(3, state="unlinked"),
            _link(4, account="us"),
        ]
    )
    by_record = store.links_for_records("uk", ["00Q8d0000000001AAA", "00Q8d0000000003AAA"])
    assert [k.contact_id for k in by_record.values()] == [1]  # unlinked ones are not found
    assert [k.contact_id for k in store.links_with_outcome("uk", ["pending"])] == [1]
    assert [k.contact_id for k in store.links_with_outcome("uk")] == [1, 2]
    assert store.links_count("uk") == {"Lead": 1, "Contact": 1}
    # an upsert replaces the row
    store.links_put([_link(1, outcome=None, base={"COMPANY": "B"})])
    assert store.links_with_outcome("uk", ["pending"]) == []
    assert store.links_get("uk", [1])[1].base == {"COMPANY": "B"}


def test_ledger_unlinked_lists_people_with_a_record_and_no_link(store):
    def entry(cid: int, state: str, **over) -> LedgerEntry:
        return LedgerEntry("uk", 7, cid, f"p{cid}@example.com", state, **over)

    store.ledger_put(
        [
            entry(1, "created", lead_id="00Q8d0000000001AAA"),
            entry(2, "excluded", matched_id="0038d0000000002AAA"),
            entry(3, "skipped"),
            entry(4, "created", lead_id="00Q8d0000000004AAA"),
            entry(5, "pending"),
        ]
    )
    store.links_put([_link(4)])
    assert [e.contact_id for e in store.ledger_unlinked("uk", 10)] == [1, 2]
    assert [e.contact_id for e in store.ledger_unlinked("uk", 1)] == [1]
    assert store.ledger_unlinked("us", 10) == []
    # the update step holds its own run's entries: the store is asked for the others
    store.ledger_put([entry(1, "created", lead_id="00Q8d0000000001AAA", last_run="r2")])
    store.ledger_put([entry(6, "created", lead_id="00Q8d0000000006AAA", last_run="r1")])
    assert [e.contact_id for e in store.ledger_unlinked("uk", 10, "r2")] == [2, 6]
    assert [e.contact_id for e in store.ledger_unlinked("uk", 10)] == [1, 2, 6]


def test_update_marks_set_and_clear_together(store, open_store_again):
    store.set_update_marks(
        "uk", {"salesforce:Lead": "2026-01-01T00:00:00Z", "import:dotdigital": "x"}
    )
    other = open_store_again()
    assert other.update_mark("uk", "salesforce:Lead") == "2026-01-01T00:00:00Z"
    other.set_update_marks("uk", {"import:dotdigital": None, "salesforce:Lead": "later"})
    assert store.update_mark("uk", "import:dotdigital") is None
    assert store.update_mark("uk", "salesforce:Lead") == "later"
    assert store.update_mark("us", "salesforce:Lead") is None
