"""What a `sync --jobs N` worker process and its parent send each other (sync/workers.py, the
parent's side; sync/worker.py, the worker's): picklable values only, no connection of any kind.

The parent sends the spec once (at start), then ("sync", account), ("stop", reason) and
("exit",); the worker answers ("ready",) or ("failed", error, None) once it has opened its
connections, then per account any number of ("progress", label, n) and one ("done", result)
or ("failed", error, result).
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from leadsync.errors import LeadsyncError

PackedError = tuple[type[BaseException], tuple[Any, ...], dict[str, Any]]


@dataclass
class WorkerSpec:
    """Everything a worker process needs to sync accounts of the parent's run: the run's
    identity and applied view, how to open its own store, the config its Dotdigital clients
    come from, and a Salesforce client to rebuild its own session from (the parent's login,
    describe cache and usage figures: no extra login or describe call per worker)."""

    run_id: str
    started: datetime
    force_sweep: bool
    view: Any  # AppliedView
    config: Any  # Config: each account's Dotdigital credentials
    open_store: Callable[[], Any]  # a picklable opener (functools.partial of state.open_store)
    salesforce: Any  # SalesforceClient.worker(), a template: the worker calls .worker() on it
    lock_timeout: float | None
    runner_pid: int  # the lock holders' pid: the runner an operator started and signals
    log_level: int
    log_format: str
    progress: bool  # whether the parent shows progress (a terminal): send it the counts


@dataclass
class AccountResult:
    """What one account's sync added to the run, merged into the parent's report."""

    account: str
    tallies: list[Any] = field(default_factory=list)  # BookTally
    update: Any = None  # UpdateTally
    push: dict[tuple[str, int], Any] = field(default_factory=dict)  # PushTally
    synced: bool = False
    skipped_locked: list[dict[str, str]] = field(default_factory=list)
    salesforce_calls: int = 0
    dotdigital_calls: int = 0


def pack_error(exc: BaseException) -> PackedError:
    """An exception as (type, args, attributes), rebuilt by `unpack_error` without calling its
    `__init__` (whose signature may differ from its args, e.g. LockHeld(info)). One that will
    not pickle (an attribute holding a response) travels as its message, same error code."""
    packed: PackedError = (type(exc), exc.args, dict(getattr(exc, "__dict__", {})))
    try:
        pickle.loads(pickle.dumps(packed))
    except Exception:
        base = LeadsyncError if isinstance(exc, LeadsyncError) else RuntimeError
        codes = {k: getattr(exc, k) for k in ("exit_code", "error_code") if hasattr(exc, k)}
        packed = (base, (str(exc),), codes)
    return packed


def unpack_error(packed: PackedError) -> BaseException:
    cls, args, state = packed
    exc = cls.__new__(cls, *args)
    exc.args = args
    exc.__dict__.update(state)
    return exc
