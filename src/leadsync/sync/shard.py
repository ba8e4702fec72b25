"""Which accounts one runner syncs: `--account NAME` and `--shard K/N`. Pure.

Scale-out runs the same `leadsync sync` N times (a Kubernetes Indexed Job, a CI matrix, N cron
lines), runner K with `--shard K/N`; the state store's account locks are the only coordination.
For that, every runner must compute the same assignment from nothing but the account name and
N, on any machine, Python version or process:

- the hash is SHA-256 of the UTF-8 name, not Python's `hash()`, which is salted per process
  (PYTHONHASHSEED) and would give two runners two different answers;
- the assignment is rendezvous (highest-random-weight) hashing: account A goes to the shard
  K whose score sha256("K:A") is highest. An account's shard depends on its own name and N
  only, so adding or removing an account moves no other account; and going from N to N+1
  shards moves only the accounts whose new shard N wins (about 1 in N+1), where `hash % N`
  would move nearly all of them (and with them the warm caches and lock contention a team
  sees per shard).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from leadsync.errors import UsageError

_SHARD = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")
MAX_SHARDS = 10_000


@dataclass(frozen=True, slots=True)
class Shard:
    """Runner `index` of `count` (index from 0, as Kubernetes' JOB_COMPLETION_INDEX)."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def owns(self, account: str) -> bool:
        return shard_of(account, self.count) == self.index


def parse_shard(text: str) -> Shard:
    """`K/N` -> Shard(K, N); anything else is a UsageError naming what is wrong."""
    match = _SHARD.fullmatch(text)
    if match is None:
        raise UsageError(
            f"--shard {text!r} is not K/N (e.g. --shard 0/3: the first of three runners; "
            "K counts from 0 like JOB_COMPLETION_INDEX)"
        )
    index, count = int(match.group(1)), int(match.group(2))
    if not 1 <= count <= MAX_SHARDS:
        raise UsageError(f"--shard {text!r}: N must be between 1 and {MAX_SHARDS}")
    if index >= count:
        raise UsageError(f"--shard {text!r}: K must be between 0 and {count - 1} (N-1)")
    return Shard(index, count)


def score(shard: int, account: str) -> int:
    """The rendezvous weight of `account` on `shard`: the first 8 bytes of SHA-256."""
    digest = hashlib.sha256(f"{shard}:{account}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def shard_of(account: str, count: int) -> int:
    """The shard (0..count-1) that syncs `account`: the highest score wins (ties: lowest K)."""
    return max(range(count), key=lambda k: (score(k, account), -k))


def select(
    known: Iterable[str], *, accounts: Sequence[str] = (), shard: Shard | None = None
) -> list[str]:
    """The accounts this runner syncs, in the applied state's order.

    `accounts` (from repeated `--account`) restricts to those names; a name the applied state
    does not have is a UsageError (exit 1) that lists the known ones. `shard` keeps the
    accounts the shard owns; both together keep the named accounts the shard owns.
    """
    names = list(known)
    unknown = sorted({a for a in accounts if a not in names})
    if unknown:
        listed = ", ".join(names) or "none"
        raise UsageError(
            f"--account {', '.join(unknown)}: no such account in the applied state "
            f"(accounts: {listed}); an account added to leadsync.yaml syncs after `leadsync apply`"
        )
    wanted = set(accounts)
    return [
        name
        for name in names
        if (not wanted or name in wanted) and (shard is None or shard.owns(name))
    ]
