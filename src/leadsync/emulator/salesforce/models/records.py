"""Writes: insert, update, delete and the record store with its indexes and its journal.

Every write path (REST, sObject Collections, Composite, Bulk API 2.0, seeding) goes through
`insert` / `update` / `delete`, so a rule enforced once is enforced everywhere, and every one
stamps the audit fields from the org's clock: CreatedDate on create, LastModifiedDate and
SystemModstamp on every create, update and delete.

All-or-none: a caller opens a savepoint; every change made while it is open journals the
record's before-image, so `rollback_to` undoes creates, updates, deletes and their cascades
alike (allOrNone collections and composite requests, upserts). The caller holds the lock
for the whole transaction.

Deletes go to the recycle bin as in Salesforce: the record stays, IsDeleted true, visible only
to queryAll, for RECYCLE_BIN_DAYS by the org's clock. Deleting a Lead or Contact deletes its
CampaignMembers; deleting a Campaign deletes its members and member statuses.
"""

from __future__ import annotations

from typing import TypeVar

from leadsync.emulator.salesforce.exceptions import (
    ApiError,
    RecordError,
    record_error,
)
from leadsync.emulator.salesforce.ids import to18
from leadsync.emulator.salesforce.models.base import OrgState
from leadsync.emulator.salesforce.sobjects import ObjectDef

R = TypeVar("R")

INDEXED = {
    "Lead": ("Email",),
    "Contact": ("Email",),
    "CampaignMember": ("CampaignId", "LeadId", "ContactId"),
    "CampaignMemberStatus": ("CampaignId",),
}


RECYCLE_BIN_DAYS = 15
DELETED_AT = "__deleted_at"  # hidden key: when the record went to the recycle bin
ROLLED_BACK = (
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "Record rolled back because not all records were valid and the request was using AllOrNone header",
)
# Children that go to the recycle bin with their parent: parent -> [(child, reference field)]
CASCADES = {
    "Lead": [("CampaignMember", "LeadId")],
    "Contact": [("CampaignMember", "ContactId")],
    "Campaign": [("CampaignMember", "CampaignId"), ("CampaignMemberStatus", "CampaignId")],
}


def rolled_back() -> RecordError:
    return record_error(*ROLLED_BACK, [])


class Records(OrgState):
    """The record store and the write paths."""

    journal: list[tuple[str, str, dict | None]] | None

    # --- savepoints --------------------------------------------------------------------------

    def savepoint(self) -> int:
        """Start journaling (if not already) and return the point to roll back to."""
        if self.journal is None:
            self.journal = []
        return len(self.journal)

    def rollback_to(self, point: int) -> None:
        """Undo every change journaled since `point` (newest first)."""
        assert self.journal is not None
        while len(self.journal) > point:
            sobject, rid, before = self.journal.pop()
            current = self.records[sobject].get(rid)
            if current is not None:
                self._index(sobject, current, add=False)
            if before is None:
                self.records[sobject].pop(rid, None)
            else:
                self.records[sobject][rid] = before
                if not before["IsDeleted"]:
                    self._index(sobject, before, add=True)

    def release(self, point: int) -> None:
        """End the savepoint (keeping its changes); the outermost one stops the journal."""
        if point == 0:
            self.journal = None

    def settle(self, point: int, results: list[R], all_or_none: bool) -> list[R | RecordError]:
        """End a many-records call opened at `point`: with all_or_none and any record failed,
        roll back and turn every success into ALL_OR_NONE_OPERATION_ROLLED_BACK."""
        out: list[R | RecordError] = list(results)
        if all_or_none and any(isinstance(r, RecordError) for r in out):
            self.rollback_to(point)
            out = [r if isinstance(r, RecordError) else rolled_back() for r in out]
        self.release(point)
        return out

    def _touch(self, sobject: str, rid: str) -> None:
        """Journal the record's before-image; call before changing or creating it."""
        if self.journal is not None:
            before = self.records[sobject].get(rid)
            self.journal.append((sobject, rid, None if before is None else dict(before)))

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
                self._duplicate_rule(values.get("Email"), version)
            new_id = self._store(obj.name, values)
            if obj.name == "Campaign":
                self._default_member_statuses(new_id)
            return new_id

    def _default_member_statuses(self, campaign_id: str) -> None:
        """A new Campaign gets Salesforce's two member statuses, Sent (the default) and
        Responded."""
        for i, (label, default, responded) in enumerate(
            (("Sent", True, False), ("Responded", False, True))
        ):
            self._store(
                "CampaignMemberStatus",
                {
                    "CampaignId": campaign_id,
                    "Label": label,
                    "SortOrder": i + 1,
                    "IsDefault": default,
                    "HasResponded": responded,
                },
            )

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
        self._touch(sobject, rid)
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
        self._touch(sobject, rid)
        record = self.records[sobject].pop(rid, None)
        if record is not None:
            self._index(sobject, record, add=False)

    def _index(self, sobject: str, record: dict, *, add: bool) -> None:
        for f in self.indexed.get(sobject, ()):
            value = record.get(f)
            if value is None:
                continue
            index = self.indexes[(sobject, f)]
            key = str(value).casefold()
            bucket = index.get(key)  # lookups read a missing key as an empty bucket
            if add:
                if bucket is None:
                    index[key] = {record["Id"]}
                else:
                    bucket.add(record["Id"])
            elif bucket is not None:
                bucket.discard(record["Id"])

    # --- update, delete, read ------------------------------------------------------------------

    def for_write(self, sobject: str, rid: object) -> dict:
        """The live record an update or delete names, or the record-level error Salesforce
        gives: MALFORMED_ID, ENTITY_IS_DELETED (in the recycle bin), INVALID_CROSS_REFERENCE_KEY."""
        obj = self.object(sobject)
        id18 = to18(str(rid)) if isinstance(rid, str) else None
        if id18 is None or not id18.startswith(obj.key_prefix):
            raise record_error("MALFORMED_ID", f"malformed id {rid}", ["Id"])
        record = self.records[obj.name].get(id18)
        if record is None:
            raise record_error("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [])
        if record["IsDeleted"]:
            raise record_error("ENTITY_IS_DELETED", "entity is deleted", [])
        return record

    def update(self, sobject: str, rid: str, values: dict) -> None:
        obj = self.object(sobject)
        with self.lock:
            record = self.for_write(obj.name, rid)
            if not obj.updateable:
                raise record_error(
                    "INVALID_TYPE_FOR_OPERATION", f"entity type cannot be updated: {obj.label}", []
                )
            if obj.name == "Lead" and record.get("IsConverted"):
                raise record_error(
                    "CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead"
                )
            values = dict(values)
            values.pop("Id", None)
            self._field_errors(obj, values, creating=False)
            self._update_required(obj, record, values)
            if obj.name == "CampaignMember" and "Status" in values:
                self._campaign_member_rules(values, existing=record)
            self._unique_rule(obj, values, record["Id"])
            self._change(obj.name, record, values)

    def _update_required(self, obj: ObjectDef, record: dict, values: dict) -> None:
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

    def _change(self, sobject: str, record: dict, values: dict) -> None:
        """Apply already-validated values: journal, reindex, stamp, derive."""
        self._touch(sobject, record["Id"])
        self._index(sobject, record, add=False)
        record.update(values)
        now = self.now()
        record.update(LastModifiedDate=now, SystemModstamp=now, LastModifiedById=self.user_id)
        self._derive(sobject, record)
        self._index(sobject, record, add=True)

    def delete(self, sobject: str, rid: str) -> None:
        """Move the record (and its cascade) to the recycle bin."""
        obj = self.object(sobject)
        with self.lock:
            record = self.for_write(obj.name, rid)
            if not obj.createable:
                raise record_error(
                    "INVALID_TYPE_FOR_OPERATION", f"entity type cannot be deleted: {obj.label}", []
                )
            self._to_recycle_bin(obj.name, record)

    def _to_recycle_bin(self, sobject: str, record: dict) -> None:
        for child, field in CASCADES.get(sobject, ()):
            bucket = self.indexes[(child, field)].get(record["Id"].casefold(), set())
            for cid in sorted(bucket):
                kid = self.records[child].get(cid)
                if kid is not None and not kid["IsDeleted"]:
                    self._to_recycle_bin(child, kid)
        self._touch(sobject, record["Id"])
        self._index(sobject, record, add=False)
        self.ever_deleted.add(sobject)  # the only write that makes IsDeleted true
        now = self.now()
        record.update(IsDeleted=True, SystemModstamp=now)
        record[DELETED_AT] = self.clock.now()

    def in_recycle_bin(self, record: dict) -> bool:
        """Deleted and not yet purged: queryAll still returns it."""
        when = record.get(DELETED_AT)
        return when is None or (self.clock.now() - when).days < RECYCLE_BIN_DAYS

    def get(self, sobject: str, rid: str) -> dict:
        """The record a REST URL names: 404 NOT_FOUND, or 404 ENTITY_IS_DELETED."""
        obj = self.object(sobject)
        id18 = to18(rid)
        with self.lock:
            record = self.records[obj.name].get(id18 or "")
            if record is None:
                raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
            if record["IsDeleted"]:
                raise ApiError(404, "ENTITY_IS_DELETED", "entity is deleted", [])
            return record
