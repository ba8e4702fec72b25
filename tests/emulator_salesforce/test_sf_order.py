"""ORDER BY as Salesforce orders: ties keep the rows' stored order (ASC and DESC), nulls first
on ASC and last on DESC unless NULLS says otherwise, later keys break earlier keys' ties, and
LIMIT / OFFSET take the first rows of that same order (the emulator picks them without sorting
every row, so each pick is checked against a full stable sort of the same rows)."""

from __future__ import annotations

import pytest

# (LastName, NumberOfEmployees, Company): ties and nulls in both keys, stored in this order
ROWS = [
    ("A", 5, "x"), ("B", None, "y"), ("C", 5, None), ("D", 7, "x"), ("E", None, "x"),
    ("F", 5, "y"), ("G", 1, None), ("H", 7, "y"), ("I", 5, "x"), ("J", None, None),
]  # fmt: skip


@pytest.fixture
def sf(sf_factory):
    leads = [
        {"LastName": n, "NumberOfEmployees": e, "Company": c or "C", "Title": c} for n, e, c in ROWS
    ]
    return sf_factory({"records": {"Lead": leads}}).sf()


def _expected(keys: list[tuple[int, bool, bool]]) -> list[str]:
    """A stable sort per key, last key first, nulls placed per key (index, desc, nulls_first)."""
    rows = list(ROWS)
    for index, desc, nulls_first in reversed(keys):
        present = sorted(
            (r for r in rows if r[index] is not None),
            key=lambda r, i=index: str(r[i]).casefold() if i == 2 else r[i],
            reverse=desc,
        )
        absent = [r for r in rows if r[index] is None]
        rows = absent + present if nulls_first else present + absent
    return [r[0] for r in rows]


FIELDS = {1: "NumberOfEmployees", 2: "Title"}


def _clause(keys: list[tuple[int, bool, bool]]) -> str:
    return ", ".join(
        f"{FIELDS[i]} {'DESC' if d else 'ASC'} NULLS {'FIRST' if n else 'LAST'}" for i, d, n in keys
    )


KEYS = [
    [(1, False, True)],
    [(1, True, False)],
    [(1, True, True)],
    [(1, False, False)],
    [(1, True, False), (2, False, True)],
    [(2, True, True), (1, False, False)],
]


def test_order_ties_nulls_and_limit(sf):
    for keys in KEYS:
        for limit in (None, 1, 3, 4, 9, 10, 12):
            soql = f"SELECT LastName FROM Lead ORDER BY {_clause(keys)}"
            expected = _expected(keys)
            if limit is not None:
                soql += f" LIMIT {limit}"
                expected = expected[:limit]
            assert [r["LastName"] for r in sf.query(soql)["records"]] == expected, soql


def test_offset_with_limit_takes_the_same_order(sf):
    keys = [(1, True, False)]
    soql = f"SELECT LastName FROM Lead ORDER BY {_clause(keys)} LIMIT 3 OFFSET 2"
    assert [r["LastName"] for r in sf.query(soql)["records"]] == _expected(keys)[2:5]


def test_default_nulls_and_datetime_desc_ties(sf):
    """No NULLS clause: nulls first on ASC, last on DESC. Seeded rows share a CreatedDate
    (one millisecond): DESC LIMIT keeps their stored order."""
    asc = sf.query("SELECT LastName FROM Lead ORDER BY NumberOfEmployees LIMIT 4")["records"]
    assert [r["LastName"] for r in asc] == _expected([(1, False, True)])[:4]
    desc = sf.query("SELECT LastName FROM Lead ORDER BY NumberOfEmployees DESC LIMIT 2")
    assert [r["LastName"] for r in desc["records"]] == _expected([(1, True, False)])[:2]
    stamps = sf.query("SELECT LastName, CreatedDate FROM Lead ORDER BY CreatedDate DESC")
    newest = stamps["records"][0]["CreatedDate"]
    tied = [r["LastName"] for r in stamps["records"] if r["CreatedDate"] == newest]
    top = sf.query("SELECT LastName FROM Lead ORDER BY CreatedDate DESC LIMIT 1")["records"]
    assert [r["LastName"] for r in top] == tied[:1]


def test_newest_stamp_skips_the_recycle_bin_and_rolled_back_deletes(sf):
    """A delete stamps SystemModstamp, yet the deleted row is not the newest live one; an
    allOrNone delete that fails rolls back and leaves its rows live."""
    newest = "SELECT LastName FROM Lead ORDER BY SystemModstamp DESC LIMIT 1"
    ids = {r["LastName"]: r["Id"] for r in sf.query("SELECT Id, LastName FROM Lead")["records"]}
    sf.Lead.update(ids["C"], {"Title": "touched"})
    assert [r["LastName"] for r in sf.query(newest)["records"]] == ["C"]
    sf.Lead.delete(ids["C"])
    top = sf.query(newest)["records"][0]["LastName"]
    assert top != "C"
    everything = sf.query_all(newest, include_deleted=True)["records"]
    assert [r["LastName"] for r in everything] == ["C"]
    failed = sf.restful(
        f"composite/sobjects?ids={ids['D']},{ids['C']}&allOrNone=true", method="DELETE"
    )
    assert [r["success"] for r in failed] == [False, False]  # C is already deleted
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == len(ROWS) - 1
    assert sf.query("SELECT COUNT() FROM Lead WHERE LastName = 'D'")["totalSize"] == 1
