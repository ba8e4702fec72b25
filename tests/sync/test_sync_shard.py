"""Which runner syncs which account (sync/shard.py): pure, stable, and moving few accounts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadsync.errors import UsageError
from leadsync.sync.shard import Shard, parse_shard, select, shard_of

NAMES = [f"brand-{n}" for n in range(600)]


def test_the_assignment_is_fixed_across_processes_and_versions() -> None:
    """Runners on different machines, Python versions and PYTHONHASHSEEDs must agree; these
    values are SHA-256's, so a change here is a change of every deployment's split."""
    assert [shard_of(f"a{n:02d}", 3) for n in range(1, 13)] == [
        2, 0, 0, 0, 0, 1, 0, 2, 2, 2, 2, 1,
    ]  # fmt: skip
    assert shard_of("uk", 1) == 0


@pytest.mark.parametrize("count", [2, 3, 5, 8])
def test_one_more_runner_moves_only_the_accounts_it_takes(count: int) -> None:
    """N -> N+1 shards: an account either stays or moves to the new shard N (rendezvous),
    and about 1/(N+1) of them move, not nearly all as with hash % N."""
    moved = [name for name in NAMES if shard_of(name, count) != shard_of(name, count + 1)]
    assert all(shard_of(name, count + 1) == count for name in moved)
    expected = len(NAMES) / (count + 1)
    assert 0.7 * expected <= len(moved) <= 1.3 * expected


def test_shards_share_the_accounts_about_evenly() -> None:
    counts = [0] * 4
    for name in NAMES:
        counts[shard_of(name, 4)] += 1
    assert min(counts) >= 0.8 * len(NAMES) / 4, counts


@given(st.lists(st.text(min_size=1, max_size=20), unique=True, max_size=30), st.integers(1, 9))
def test_every_account_is_in_exactly_one_shard(names: list[str], count: int) -> None:
    picked = [select(names, shard=Shard(k, count)) for k in range(count)]
    assert sorted(n for part in picked for n in part) == sorted(names)
    # adding an account moves no other one
    for k in range(count):
        assert select([*names, "\x00new"], shard=Shard(k, count)) in (
            picked[k],
            [*picked[k], "\x00new"],
        )


def test_select_keeps_the_applied_order_and_combines_account_and_shard() -> None:
    known = ["a01", "a02", "a03", "a06"]
    assert select(known, accounts=["a06", "a01"]) == ["a01", "a06"]
    assert select(known, accounts=["a02", "a06"], shard=Shard(1, 3)) == ["a06"]
    assert select(known) == known


def test_an_unknown_account_names_the_known_ones() -> None:
    with pytest.raises(UsageError) as caught:
        select(["a01", "a02"], accounts=["a01", "zz", "b"])
    assert str(caught.value).startswith("--account b, zz: no such account in the applied state")
    assert "(accounts: a01, a02)" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "shard"), [("0/3", Shard(0, 3)), (" 2 / 3 ", Shard(2, 3)), ("0/1", Shard(0, 1))]
)
def test_parse_shard(text: str, shard: Shard) -> None:
    assert parse_shard(text) == shard
    assert str(shard) == f"{shard.index}/{shard.count}"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("3/3", "K must be between 0 and 2"),
        ("1", "is not K/N"),
        ("-1/3", "is not K/N"),
        ("a/b", "is not K/N"),
        ("0/0", "N must be between 1 and 10000"),
    ],
)
def test_parse_shard_refuses(text: str, why: str) -> None:
    with pytest.raises(UsageError, match=why):
        parse_shard(text)
