"""What every concern of the org shares: the lock, the clock, metadata and the record tables.

The backend is one class composed of mixins (as moto composes its EC2 backend), one module per
concern: sessions (logins and tokens), limits (the API counter), values (input conversion),
rules (Salesforce's validation rules), records (writes, deletes, conversion), upserts (by
External ID), queries (SOQL), jobs (Bulk API 2.0). Each mixin reads the state declared here;
`SalesforceBackend.__init__` (models/__init__.py) sets it.
"""

from __future__ import annotations

import functools
import threading
import time
from datetime import UTC, datetime, timedelta

from leadsync.emulator.salesforce.exceptions import ApiError
from leadsync.emulator.salesforce.ids import IdFactory
from leadsync.emulator.salesforce.sobjects import FieldDef, ObjectDef


@functools.lru_cache(maxsize=4096)
def sf_datetime(dt: datetime) -> str:
    """Salesforce's JSON datetime form: 2026-01-31T10:00:00.000+0000. Cached: every record
    a request writes gets the same few stamps (the clock is cut to milliseconds)."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}+0000"


class Clock:
    """The org's clock: UTC wall time plus a settable offset (the `/__emulator/clock` route),
    so a test can move time on to compare CreatedDate / SystemModstamp / LAST_N_DAYS without
    waiting. Times are cut to milliseconds, the precision Salesforce stores."""

    def __init__(self) -> None:
        self.offset = timedelta(0)
        self._last: tuple[int, timedelta, str] = (-1, self.offset, "")

    def now(self) -> datetime:
        t = datetime.now(UTC) + self.offset
        return t.replace(microsecond=t.microsecond // 1000 * 1000)

    def stamp(self) -> str:
        """now() in Salesforce's datetime form. Every record written gets one (CreatedDate,
        SystemModstamp): the text is made once per millisecond (datetime.now reads the same
        system clock as time.time_ns)."""
        offset = self.offset
        ms = (time.time_ns() // 1000 + offset // _MICROSECOND) // 1000
        last = self._last
        if last[0] == ms and last[1] == offset:
            return last[2]
        text = sf_datetime(_EPOCH + timedelta(milliseconds=ms))
        self._last = (ms, offset, text)
        return text


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class OrgState:
    """Attributes every mixin relies on (set by SalesforceBackend.__init__)."""

    lock: threading.RLock
    ids: IdFactory
    clock: Clock
    org_id: str
    user_id: str
    objects: dict[str, ObjectDef]
    _objects_lower: dict[str, ObjectDef]
    records: dict[str, dict[str, dict]]
    indexed: dict[str, tuple[str, ...]]
    indexes: dict[tuple[str, str], dict[str, set[str]]]
    # sObjects a record of which has gone to the recycle bin (it stays in its table for good)
    ever_deleted: set[str]

    def object(self, name: str) -> ObjectDef:
        obj = self._objects_lower.get(name.lower())
        if obj is None:
            raise ApiError(
                404,
                "NOT_FOUND",
                f"The requested resource does not exist: sObject type '{name}' is not supported.",
            )
        return obj

    def picklist_for(self, obj: ObjectDef, f: FieldDef) -> list[tuple[str, bool]]:
        if obj.name == "CampaignMember" and f.name == "Status":
            with self.lock:
                labels: dict[str, bool] = {}
                for r in self.records["CampaignMemberStatus"].values():
                    labels.setdefault(r["Label"], False)
                return [(label, False) for label in labels]
        return f.picklist

    def now(self) -> str:
        """The org's current time in Salesforce's datetime form."""
        return self.clock.stamp()
