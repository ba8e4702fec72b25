"""Why a write left a member pending: its error class, and the ledger's `last_error`. Pure.

A record stays pending when Salesforce could not take it now (an HTTP 500 on the create, a
dropped connection, UNABLE_TO_LOCK_ROW on the record). The next run retries it, so the record is
not lost; but a run that ends with such records did not do its job, and CI must see that (exit
4, `status: incomplete`, see report.py). Two things need the cause:

- the ledger entry keeps it as `extra["last_error"]` (the ledger's JSON column, as CampaignMember
  errors already are; no schema change), so `leadsync records --state pending` says why;
- the run report groups this run's causes by error class, with a count and one sample.

An error class is a short stable word to group by and alert on: `HTTP <status>` when the API
answered with an error status, else the API's or the client's code (`CONNECTION_ERROR`,
`UNABLE_TO_LOCK_ROW`, `RESULT_UNKNOWN`, ...). The message is the client's one line (never a
secret: the clients guarantee it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from leadsync.errors import RemoteError

LAST_ERROR = "last_error"  # key in LedgerEntry.extra
UNKNOWN_CLASS = "UNKNOWN"


@dataclass(frozen=True, slots=True)
class WriteError:
    """The cause of a failed write, before it is stamped with a run and a time."""

    error_class: str
    system: str
    message: str

    def stamped(self, run_id: str, now: str) -> dict[str, Any]:
        """The JSON value stored as an entry's last_error."""
        return {
            "class": self.error_class,
            "system": self.system,
            "message": self.message,
            "run": run_id,
            "at": now,
        }


def of_exception(exc: RemoteError) -> WriteError:
    """The class of a raised client error: its HTTP status, else its API or client code."""
    if isinstance(exc.status, int) and exc.status >= 400:
        error_class = f"HTTP {exc.status}"
    elif exc.code:
        error_class = str(exc.code)
    else:
        error_class = type(exc).__name__
    return WriteError(error_class, exc.system or "Salesforce", str(exc))


def still_in_doubt(write: WriteError | None, check: RemoteError) -> WriteError:
    """Why a record stays in doubt: its write failed (`write`, if this run sent it) and asking
    Salesforce what became of it failed too (`check`). Classed by the write when known."""
    asked = of_exception(check)
    if write is None:
        return asked
    message = f"{write.message}; asking what became of it failed too: {asked.message}"
    return WriteError(write.error_class, write.system, message)


def of_record(code: str | None, message: str, system: str = "Salesforce") -> WriteError:
    """The class of a per-record error in an otherwise successful answer."""
    return WriteError(code or UNKNOWN_CLASS, system, message)


def last_error_of(extra: dict[str, Any]) -> dict[str, Any] | None:
    """The stored last_error of an entry's `extra`, or None (older entries have none)."""
    value = extra.get(LAST_ERROR)
    return value if isinstance(value, dict) else None
