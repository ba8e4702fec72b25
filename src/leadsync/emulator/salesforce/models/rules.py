"""Salesforce's validation rules: field types and lengths, restricted picklists,
references, unique fields, required fields, duplicate rules, campaign member rules."""

from __future__ import annotations

import re

from leadsync.emulator.salesforce.exceptions import RecordError, SaveErr, record_error
from leadsync.emulator.salesforce.ids import KEY_PREFIXES, to18
from leadsync.emulator.salesforce.models.base import OrgState
from leadsync.emulator.salesforce.sobjects import FieldDef, ObjectDef

_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
DUPLICATE_MESSAGE = (
    "You're creating a duplicate record. We recommend you use an existing record instead."
)
MATCH_RULES = {
    "Lead": "Standard_Lead_Match_Rule_v1_0",
    "Contact": "Standard_Contact_Match_Rule_v1_1",
}


class Rules(OrgState):
    """Checks a write must pass; each raises a RecordError with Salesforce's code."""

    # --- rules -------------------------------------------------------------------------------

    def _field_errors(self, obj: ObjectDef, values: dict, *, creating: bool) -> None:
        errors: list[SaveErr] = []
        locked = [
            n for n, v in values.items()
            if n != "Id" and not (obj.fields[n].createable if creating else obj.fields[n].updateable)
        ]  # fmt: skip
        if creating and values.get("Id") is not None:
            raise record_error(
                "INVALID_FIELD_FOR_INSERT_UPDATE", "cannot specify Id in an insert call", ["Id"]
            )
        if locked:
            raise record_error(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to create/update fields: {', '.join(locked)}. Please check the security "
                "settings of this field and verify that it is read/write for your profile or permission set.",
                locked,
            )
        for name, value in values.items():
            if value is None or name == "Id":
                continue
            f = obj.fields[name]
            if (
                f.type in ("string", "textarea", "email", "phone", "url")
                and f.length
                and len(str(value)) > f.length
            ):
                errors.append(
                    SaveErr(
                        "STRING_TOO_LONG",
                        f"{f.label}: data value too large: {value} (max length={f.length})",
                        [name],
                    )
                )
            elif f.type == "email" and not _EMAIL.match(str(value)):
                errors.append(
                    SaveErr(
                        "INVALID_EMAIL_ADDRESS",
                        f"{f.label}: invalid email address: {value}",
                        [name],
                    )
                )
            elif f.type == "picklist" and f.restricted and value not in {v for v, _ in f.picklist}:
                errors.append(
                    SaveErr(
                        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                        f"{f.label}: bad value for restricted picklist field: {value}",
                        [name],
                    )
                )
            elif f.type == "reference":
                self._check_reference(f, str(value), errors)
        if errors:
            raise RecordError(errors[:1])

    def _check_reference(self, f: FieldDef, value: str, errors: list[SaveErr]) -> None:
        target = f.reference_to[0] if f.reference_to else ""
        id18 = to18(value)
        prefix = KEY_PREFIXES.get(target)
        if id18 is None or (prefix and not id18.startswith(prefix)):
            errors.append(
                SaveErr("MALFORMED_ID", f"{f.label}: id value of incorrect type: {value}", [f.name])
            )
        elif target == "User":
            if id18 not in self.records["User"]:
                errors.append(
                    SaveErr("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [f.name])
                )
        elif target in self.records and id18 not in self.records[target]:
            errors.append(
                SaveErr("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [f.name])
            )

    def _unique_rule(self, obj: ObjectDef, values: dict, record_id: str | None = None) -> None:
        """DUPLICATE_VALUE when a unique field's value is held by another record (compared
        case-insensitively unless the field is case-sensitive; blank values are never unique)."""
        for name, value in values.items():
            f = obj.fields.get(name)
            if f is None or not f.unique or value in (None, ""):
                continue
            holders = sorted(rid for rid in self._key_holders(obj, f, value) if rid != record_id)
            if holders:
                raise record_error(
                    "DUPLICATE_VALUE",
                    f"duplicate value found: {f.name} duplicates value on record with id: "
                    f"{holders[0]}",
                    [f.name],
                )

    def _key_holders(self, obj: ObjectDef, f: FieldDef, value: object) -> list[str]:
        """Ids of live records whose indexed field `f` holds `value` (case rules of `f`)."""
        bucket = self.indexes[(obj.name, f.name)].get(str(value).casefold(), set())
        table = self.records[obj.name]
        return [
            rid
            for rid in bucket
            if rid in table
            and not table[rid]["IsDeleted"]
            and (not f.case_sensitive or str(table[rid].get(f.name)) == str(value))
        ]

    def _apply_defaults(self, obj: ObjectDef, values: dict) -> None:
        for name, default in obj.create_defaults:
            if values.get(name) is None:
                values[name] = default

    def _missing_required(self, obj: ObjectDef, values: dict) -> None:
        missing = [name for name in obj.required_fields if values.get(name) in (None, "")]
        if missing:
            raise record_error(
                "REQUIRED_FIELD_MISSING",
                f"Required fields are missing: [{', '.join(missing)}]",
                missing,
            )

    def _duplicate_matches(self, email: str | None) -> dict[str, list[str]]:
        if not email or not self.duplicate_rule_on_lead_email:
            return {}
        key = email.casefold()
        found = {}
        for sobject in ("Lead", "Contact"):
            ids = sorted(self.indexes[(sobject, "Email")].get(key, ()))
            if ids:
                found[sobject] = ids
        return found

    def _duplicate_rule(self, email: str | None, version: str) -> None:
        """The org's duplicate rule on Lead email (when seeded on): a Lead or Contact with the
        same email blocks the save unless the caller allows duplicate saves."""
        matches = self._duplicate_matches(email)
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

    def duplicate_result(self, matches: dict[str, list[str]], version: str = "59.0") -> dict:
        return {
            "allowSave": True,
            "duplicateRule": "Standard_Rule_for_Leads_with_Duplicate_Contacts"
            if "Contact" in matches
            else "Standard_Lead_Duplicate_Rule",
            "duplicateRuleEntityType": "Lead",
            "errorMessage": DUPLICATE_MESSAGE,
            "matchResults": [
                {
                    "entityType": sobject,
                    "errors": [],
                    "matchEngine": "ExactMatchEngine",
                    "matchRecords": [
                        {
                            "additionalInformation": [],
                            "fieldDiffs": [],
                            "matchConfidence": 100.0,
                            "record": {
                                "attributes": {
                                    "type": sobject,
                                    "url": f"/services/data/v{version}/sobjects/{sobject}/{rid}",
                                },
                                "Id": rid,
                            },
                        }
                        for rid in ids
                    ],
                    "rule": MATCH_RULES[sobject],
                    "size": len(ids),
                    "success": True,
                }
                for sobject, ids in matches.items()
            ],
        }

    def _campaign_member_rules(self, values: dict, *, existing: dict | None = None) -> None:
        cid = values.get("CampaignId") if existing is None else existing["CampaignId"]
        if existing is None:
            if values.get("LeadId") is None and values.get("ContactId") is None:
                raise record_error(
                    "REQUIRED_FIELD_MISSING",
                    "Required fields are missing: [LeadId, ContactId]",
                    ["LeadId", "ContactId"],
                )
            if values.get("ContactId") is not None:
                values["LeadId"] = None
            who = (
                ("ContactId", values["ContactId"])
                if values.get("ContactId")
                else ("LeadId", values["LeadId"])
            )
            member_ids = self.indexes[("CampaignMember", who[0])].get(
                to18(who[1]).casefold(), set()
            )  # type: ignore[union-attr]
            if any(self.records["CampaignMember"][m]["CampaignId"] == cid for m in member_ids):
                raise record_error("DUPLICATE_VALUE", "Already a campaign member.", [])
        statuses = [
            self.records["CampaignMemberStatus"][s]
            for s in self.indexes[("CampaignMemberStatus", "CampaignId")].get(cid.casefold(), ())
        ]
        status = values.get("Status")
        if status is None and existing is None:
            default = next((s for s in statuses if s["IsDefault"]), None)
            status = values["Status"] = default["Label"] if default else None
        if "Status" in values:
            match = next((s for s in statuses if s["Label"] == status), None)
            if match is None:
                raise record_error(
                    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    f"Status: bad value for restricted picklist field: {status}",
                    ["Status"],
                )
            values["HasResponded"] = match["HasResponded"]
            if match["HasResponded"] and not (existing or {}).get("FirstRespondedDate"):
                values["FirstRespondedDate"] = self.clock.now().date().isoformat()

    # --- writes ------------------------------------------------------------------------------

    def _member_status_rules(self, values: dict) -> None:
        cid = values["CampaignId"]
        siblings = [
            self.records["CampaignMemberStatus"][s]
            for s in self.indexes[("CampaignMemberStatus", "CampaignId")].get(cid.casefold(), ())
        ]
        clash = next(
            (s for s in siblings if s["Label"].casefold() == str(values["Label"]).casefold()), None
        )
        if clash:
            raise record_error(
                "DUPLICATE_VALUE",
                f"duplicate value found: Label duplicates value on record with id: {clash['Id']}",
                ["Label"],
            )
        if values.get("SortOrder") is None:
            values["SortOrder"] = max((s["SortOrder"] or 0 for s in siblings), default=0) + 1
        if values.get("IsDefault"):
            for s in siblings:
                if s["IsDefault"]:
                    self._touch("CampaignMemberStatus", s["Id"])
                    s["IsDefault"] = False
