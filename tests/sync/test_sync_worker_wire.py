"""sync/worker_wire.py: an error raised in a `--jobs` worker process reaches the runner as the
same error (type, message, attributes, exit and error codes), pure, without I/O."""

from __future__ import annotations

import pickle
import threading

from leadsync.errors import LeadsyncError, LimitReached
from leadsync.state.model import LockHeld, LockInfo
from leadsync.sync.run import StopRequested
from leadsync.sync.worker_wire import pack_error, unpack_error


def _travel(exc: BaseException) -> BaseException:
    return unpack_error(pickle.loads(pickle.dumps(pack_error(exc))))


def test_an_error_whose_init_differs_from_its_args_arrives_whole() -> None:
    info = LockInfo("account:north", "sync", 4242, "host", "ops", "2026-11-29T10:00:00Z")
    held = _travel(LockHeld(info))
    assert type(held) is LockHeld and held.info == info and str(held) == str(LockHeld(info))
    assert held.error_code == "lock_held" and held.exit_code == 1
    limit = _travel(LimitReached("usage 600/1000"))
    assert type(limit) is LimitReached and limit.exit_code == 3 and str(limit) == "usage 600/1000"
    stop = _travel(StopRequested("stopped by SIGTERM"))
    assert type(stop) is StopRequested and str(stop) == "stopped by SIGTERM"
    bug = _travel(KeyError("Email"))
    assert type(bug) is KeyError and bug.args == ("Email",)


def test_an_error_that_will_not_pickle_arrives_as_its_message_and_codes() -> None:
    class Refused(LeadsyncError):
        error_code = "remote_error"
        exit_code = 1

    exc = Refused("Salesforce refused the write")
    exc.response = threading.Lock()  # type: ignore[attr-defined]  # no pickle for this
    got = _travel(exc)
    assert isinstance(got, LeadsyncError) and str(got) == "Salesforce refused the write"
    assert got.error_code == "remote_error" and got.exit_code == 1  # type: ignore[attr-defined]
