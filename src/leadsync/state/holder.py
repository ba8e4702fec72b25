"""Who is asking for a lock: the facts a LockHeld message shows to the person waiting."""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Sequence

from leadsync.state.codec import utc_now
from leadsync.state.model import LockInfo


def os_user() -> str:
    """The OS user; containers often have no passwd entry or $USER, so fall back to the uid."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}"


def this_holder(name: str, purpose: str) -> LockInfo:
    return LockInfo(
        name=name,
        purpose=purpose,
        pid=os.getpid(),
        host=socket.gethostname(),
        user=os_user(),
        since=utc_now(),
    )


def lock_order(names: Sequence[str]) -> list[str]:
    """Distinct names in one global order: every process takes locks in the same sequence."""
    if isinstance(names, str):  # a bare "apply" would otherwise become five one-letter locks
        raise TypeError("lock names must be a sequence of strings, not a string")
    ordered = sorted(set(names))
    if not ordered:
        raise ValueError("lock() needs at least one lock name")
    return ordered
