"""sObject Collections: up to 200 records created, updated or deleted in one call (2,000
retrieved), each with its own result, in order; allOrNone rolls all of them back when one fails.
"""

from __future__ import annotations

from leadsync.emulator.salesforce.exceptions import RecordError, record_error
from leadsync.emulator.salesforce.ids import KEY_PREFIXES, to18
from leadsync.emulator.salesforce.models.base import OrgState

_BY_PREFIX = {prefix: name for name, prefix in KEY_PREFIXES.items()}


class Collections(OrgState):
    """Many records per call, one result each."""

    def insert_many(
        self,
        items: list[tuple[str, dict]],
        *,
        all_or_none: bool,
        allow_duplicate_save: bool,
        version: str = "59.0",
    ) -> list[str | RecordError]:
        """Records in order; with all_or_none, one failure rolls back the others."""
        with self.lock:
            point = self.savepoint()
            results: list[str | RecordError] = []
            for sobject, values in items:
                try:
                    results.append(
                        self.insert(
                            sobject,
                            values,
                            allow_duplicate_save=allow_duplicate_save,
                            version=version,
                        )
                    )
                except RecordError as exc:
                    results.append(exc)
            return self.settle(point, results, all_or_none)

    def update_many(
        self, items: list[tuple[str, object, dict]], *, all_or_none: bool
    ) -> list[str | RecordError]:
        """(sobject, id, values) in order -> the id, or the record's error."""
        with self.lock:
            point = self.savepoint()
            results: list[str | RecordError] = []
            for sobject, rid, values in items:
                try:
                    if rid in (None, ""):
                        raise record_error(
                            "MISSING_ARGUMENT", "Id not specified in an update call", ["Id"]
                        )
                    record = self.for_write(sobject, rid)
                    self.update(sobject, record["Id"], values)
                    results.append(record["Id"])
                except RecordError as exc:
                    results.append(exc)
            return self.settle(point, results, all_or_none)

    def delete_many(self, ids: list[str], *, all_or_none: bool) -> list[str | RecordError]:
        """Ids of any object types, in order -> the id, or the record's error."""
        with self.lock:
            point = self.savepoint()
            results: list[str | RecordError] = []
            for rid in ids:
                try:
                    sobject = _BY_PREFIX.get(rid[:3]) if to18(rid) else None
                    if sobject not in self.records:
                        raise record_error("MALFORMED_ID", f"malformed id {rid}", [])
                    record = self.for_write(sobject, rid)  # type: ignore[arg-type]
                    self.delete(sobject, record["Id"])  # type: ignore[arg-type]
                    results.append(record["Id"])
                except RecordError as exc:
                    results.append(exc)
            return self.settle(point, results, all_or_none)

    def retrieve(self, sobject: str, ids: list[object], fields: list[str], version: str) -> list:
        """Records of one type by id, with the named fields; None for an id that is malformed,
        of another type, unknown or deleted. An unknown field fails the whole request."""
        obj = self.object(sobject)
        resolve = self._resolver(obj)
        for path in fields:
            resolve(path)
        with self.lock:
            out: list = []
            for rid in ids:
                id18 = to18(rid) if isinstance(rid, str) else None
                record = self.records[obj.name].get(id18 or "")
                if record is None or record["IsDeleted"]:
                    out.append(None)
                else:
                    out.append(self._project(obj, fields, record, version))
            return out
