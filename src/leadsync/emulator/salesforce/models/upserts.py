"""Upsert by External ID (sObject Collections and Bulk API 2.0)."""

from __future__ import annotations

from collections.abc import Iterable

from leadsync.emulator.salesforce.exceptions import ApiError, RecordError, record_error
from leadsync.emulator.salesforce.models.base import OrgState
from leadsync.emulator.salesforce.sobjects import FieldDef, ObjectDef


class Upserts(OrgState):
    """Create-or-update by a key field, with all-or-none rollback."""

    # --- upsert by External ID ---------------------------------------------------------------

    def external_id_field(self, obj: ObjectDef, name: str) -> FieldDef:
        """The upsert key a request names; only External ID fields qualify (a request error)."""
        f = obj.get(name)
        if f is None or not f.external_id:
            raise ApiError(
                400,
                "INVALID_FIELD",
                f"Field name provided, {name} is not an External ID or indexed field for {obj.name}",
                [name],
            )
        return f

    def upsert_many(
        self,
        sobject: str,
        key_field: str,
        items: list[dict],
        *,
        all_or_none: bool,
        allow_duplicate_save: bool,
        version: str = "59.0",
    ) -> list[tuple[str, bool] | RecordError]:
        """Create or update each record by its key, in order: (id, created) or the error.

        With all_or_none, one failure rolls every other record back (updates restored,
        creations removed). Two records of one request with the same key both fail: Salesforce
        cannot tell which of them the caller meant.
        """
        obj = self.object(sobject)
        f = self.external_id_field(obj, key_field)
        with self.lock:
            repeated = repeated_keys(f, [values.get(f.name) for values in items])
            point = self.savepoint()
            results: list[tuple[str, bool] | RecordError] = []
            for values in items:
                try:
                    if key_form(f, values.get(f.name)) in repeated:
                        raise record_error(
                            "DUPLICATE_VALUE",
                            f"Duplicate external id specified: {values[f.name]}",
                            [f.name],
                        )
                    results.append(
                        self.upsert_one(
                            obj,
                            f,
                            values,
                            allow_duplicate_save=allow_duplicate_save,
                            version=version,
                        )
                    )
                except RecordError as exc:
                    results.append(exc)
            return self.settle(point, results, all_or_none)

    def upsert_one(
        self,
        obj: ObjectDef,
        f: FieldDef,
        values: dict,
        *,
        allow_duplicate_save: bool,
        version: str,
    ) -> tuple[str, bool]:
        """Update the one record holding the key, or create it: (id, created)."""
        key = values.get(f.name)
        if key in (None, ""):
            raise record_error("MISSING_ARGUMENT", f"{f.name} not specified", [f.name])
        with self.lock:
            holders = sorted(self._key_holders(obj, f, key))
            if len(holders) > 1:
                raise record_error(
                    "DUPLICATE_EXTERNAL_ID",
                    f"{f.label}: more than one record found for external id field: "
                    f"[{', '.join(holders)}]",
                    [f.name],
                )
            if holders:
                self.update(obj.name, holders[0], values)
                return holders[0], False
            rid = self.insert(
                obj.name, values, allow_duplicate_save=allow_duplicate_save, version=version
            )
            return rid, True


def key_form(f: FieldDef, value: object) -> str | None:
    """How a key value compares under the field's case rule (None: no key)."""
    if value in (None, ""):
        return None
    return str(value) if f.case_sensitive else str(value).casefold()


def repeated_keys(f: FieldDef, values: Iterable[object]) -> set[str]:
    """Key forms that occur more than once among `values` (one request or one job)."""
    seen: set[str] = set()
    repeated: set[str] = set()
    for value in values:
        form = key_form(f, value)
        if form is not None:
            (repeated if form in seen else seen).add(form)
    return repeated
