"""Writes: insert, update, delete and the record store with its indexes.

Every write path (REST create, sObject Collections, Bulk API 2.0, seeding) goes through
`insert` / `update` / `delete`, so a rule enforced once is enforced everywhere."""

from __future__ import annotations

from leadsync.emulator.salesforce.exceptions import (
    ApiError,
    RecordError,
    SaveErr,
    record_error,
)
from leadsync.emulator.salesforce.ids import to18
from leadsync.emulator.salesforce.models.base import OrgState
from leadsync.emulator.salesforce.models.rules import DUPLICATE_MESSAGE

INDEXED = {
    "Lead": ("Email",),
    "Contact": ("Email",),
    "CampaignMember": ("CampaignId", "LeadId", "ContactId"),
    "CampaignMemberStatus": ("CampaignId",),
}


class Records(OrgState):
    """The record store and the write paths."""

    # --- writes ------------------------------------------------------------------------------

    def insert(
        self,
        sobject: str,
        values: dict,
        *,
        allow_duplicate_save: bool = False,
        version: str = "59.0",
        existing_data: bool = False,
    ) -> str:
        """Validate and store one record; raises RecordError with Salesforce's code on a rule.

        existing_data (seeding) skips the required-field rule: seeded rows model records that
        existed before a field was made required, which Salesforce does not re-validate.
        """
        obj = self.object(sobject)
        with self.lock:
            if not obj.createable:
                raise record_error(
                    "INVALID_TYPE_FOR_OPERATION", f"entity type cannot be inserted: {obj.label}", []
                )
            values = {k: v for k, v in values.items()}
            for ref in ("CampaignId", "LeadId", "ContactId"):
                if isinstance(values.get(ref), str) and obj.get(ref):
                    values[ref] = to18(values[ref]) or values[ref]
            self._field_errors(obj, values, creating=True)
            self._apply_defaults(obj, values)
            if not existing_data:
                self._missing_required(obj, values)
            self._unique_rule(obj, values)
            if obj.name == "CampaignMember":
                self._campaign_member_rules(values)
            elif obj.name == "CampaignMemberStatus":
                self._member_status_rules(values)
            elif obj.name == "Lead" and not allow_duplicate_save:
                matches = self._duplicate_matches(values.get("Email"))
                if matches:
                    raise RecordError(
                        [
                            SaveErr(
                                "DUPLICATES_DETECTED",
                                DUPLICATE_MESSAGE,
                                [],
                                {"duplicateResult": self.duplicate_result(matches, version)},
                            )
                        ]
                    )
            new_id = self._store(obj.name, values)
            if obj.name == "Campaign":
                for i, (label, default, responded) in enumerate(
                    (("Sent", True, False), ("Responded", False, True))
                ):
                    self._store(
                        "CampaignMemberStatus",
                        {
                            "CampaignId": new_id,
                            "Label": label,
                            "SortOrder": i + 1,
                            "IsDefault": default,
                            "HasResponded": responded,
                        },
                    )
            return new_id

    def _store(self, sobject: str, values: dict) -> str:
        obj = self.objects[sobject]
        now = self.now()
        rid = self.ids.new(obj.key_prefix)
        record = dict(obj.template)
        record.update(values)
        record.update(
            Id=rid, IsDeleted=False, CreatedDate=now, CreatedById=self.user_id, LastModifiedDate=now,
            LastModifiedById=self.user_id, SystemModstamp=now,
        )  # fmt: skip
        if "OwnerId" in obj.fields and record.get("OwnerId") is None:
            record["OwnerId"] = self.user_id
        self._derive(sobject, record)
        self.records[sobject][rid] = record
        self._index(sobject, record, add=True)
        return rid

    def _derive(self, sobject: str, record: dict) -> None:
        if sobject in ("Lead", "Contact"):
            record["Name"] = " ".join(
                p for p in (record.get("FirstName"), record.get("LastName")) if p
            )
        if sobject == "CampaignMember":
            who = (
                ("Contact", record.get("ContactId"))
                if record.get("ContactId")
                else ("Lead", record.get("LeadId"))
            )
            person = self.records[who[0]].get(who[1] or "")
            record["Email"] = person.get("Email") if person else None

    def _unstore(self, sobject: str, rid: str) -> None:
        record = self.records[sobject].pop(rid, None)
        if record is not None:
            self._index(sobject, record, add=False)

    def _index(self, sobject: str, record: dict, *, add: bool) -> None:
        for f in self.indexed.get(sobject, ()):
            value = record.get(f)
            if value is None:
                continue
            bucket = self.indexes[(sobject, f)].setdefault(str(value).casefold(), set())
            if add:
                bucket.add(record["Id"])
            else:
                bucket.discard(record["Id"])

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
            if all_or_none and any(isinstance(r, RecordError) for r in results):
                rolled = record_error(
                    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                    "Record rolled back because not all records were valid and the request was using AllOrNone header",
                    [],
                )
                for i, ((sobject, _), r) in enumerate(zip(items, results, strict=True)):
                    if isinstance(r, str):
                        self._cascade_delete(self.object(sobject).name, r)
                        results[i] = rolled
            return results

    # --- upsert by External ID ---------------------------------------------------------------

    def _cascade_delete(self, sobject: str, rid: str) -> None:
        if sobject == "Campaign":
            for sid in list(
                self.indexes[("CampaignMemberStatus", "CampaignId")].get(rid.casefold(), ())
            ):
                self._unstore("CampaignMemberStatus", sid)
        self._unstore(sobject, rid)

    def update(self, sobject: str, rid: str, values: dict) -> None:
        obj = self.object(sobject)
        with self.lock:
            record = self.get(obj.name, rid)
            if not obj.updateable:
                raise record_error(
                    "INVALID_TYPE_FOR_OPERATION", f"entity type cannot be updated: {obj.label}", []
                )
            values = dict(values)
            values.pop("Id", None)
            self._field_errors(obj, values, creating=False)
            merged = {**record, **values}
            missing = [
                f.name
                for f in obj.fields.values()
                if f.required and f.name in values and merged.get(f.name) in (None, "")
            ]
            if obj.name == "Lead" and "Status" in values and values["Status"] is None:
                missing.append("Status")
            if missing:
                raise record_error(
                    "REQUIRED_FIELD_MISSING",
                    f"Required fields are missing: [{', '.join(missing)}]",
                    missing,
                )
            if obj.name == "CampaignMember" and "Status" in values:
                self._campaign_member_rules(values, existing=record)
            self._unique_rule(obj, values, record["Id"])
            self._index(obj.name, record, add=False)
            record.update(values)
            now = self.now()
            record.update(LastModifiedDate=now, SystemModstamp=now, LastModifiedById=self.user_id)
            self._derive(obj.name, record)
            self._index(obj.name, record, add=True)

    def delete(self, sobject: str, rid: str) -> None:
        obj = self.object(sobject)
        with self.lock:
            record = self.get(obj.name, rid)
            if record["IsDeleted"]:
                raise ApiError(404, "ENTITY_IS_DELETED", "entity is deleted", [])
            record["IsDeleted"] = True
            self._index(obj.name, record, add=False)

    def get(self, sobject: str, rid: str) -> dict:
        obj = self.object(sobject)
        id18 = to18(rid)
        with self.lock:
            record = self.records[obj.name].get(id18 or "")
            if record is None or record["IsDeleted"]:
                raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
            return record
