"""Runs list newest first even when they started within the same second: reports say
`started_at` to the second, so the store orders by the start each run passes to the
microsecond (status's "last run" of a book is the first report that names it)."""

from __future__ import annotations


def test_two_runs_started_in_one_second_list_newest_first(store) -> None:
    second = "2026-11-29T10:00:00Z"
    # run ids carry a random suffix: the newer one sorts first by id alone
    store.save_run(
        "20261129T100000Z-ffffff", {"started_at": second}, "2026-11-29T10:00:00.100000+00:00"
    )
    store.save_run(
        "20261129T100000Z-000000", {"started_at": second}, "2026-11-29T10:00:00.900000+00:00"
    )
    assert [r["run_id"] for r in store.runs()] == [
        "20261129T100000Z-000000",
        "20261129T100000Z-ffffff",
    ]
    assert [r["run_id"] for r in store.runs(limit=1)] == ["20261129T100000Z-000000"]
