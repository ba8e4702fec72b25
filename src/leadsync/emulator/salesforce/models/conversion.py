"""Lead conversion, as Salesforce's convertLead does it (a real org converts in the UI; the
emulator offers it as a control route).

Converting creates an Account (named after the Lead's Company, else its Name) and a Contact
(the Lead's person fields) unless existing ones are named, then marks the Lead IsConverted
with ConvertedDate, ConvertedAccountId, ConvertedContactId and a converted Lead Status. The
Lead's CampaignMembers gain the ContactId (and keep the LeadId). From then on the Lead is read
only: an update answers CANNOT_UPDATE_CONVERTED_LEAD. All of it happens or none of it does.
"""

from __future__ import annotations

from leadsync.emulator.salesforce.exceptions import ApiError, RecordError
from leadsync.emulator.salesforce.ids import to18
from leadsync.emulator.salesforce.models.base import OrgState

# Lead field -> Contact field copied on conversion (standard mapping; custom fields unmapped)
CONTACT_FROM_LEAD = {
    "Salutation": "Salutation",
    "FirstName": "FirstName",
    "LastName": "LastName",
    "Title": "Title",
    "Email": "Email",
    "Phone": "Phone",
    "MobilePhone": "MobilePhone",
    "City": "MailingCity",
    "Country": "MailingCountry",
    "Description": "Description",
    "LeadSource": "LeadSource",
    "HasOptedOutOfEmail": "HasOptedOutOfEmail",
    "DoNotCall": "DoNotCall",
}


class LeadConversion(OrgState):
    """convertLead: Lead -> Account + Contact."""

    def convert_lead(
        self,
        lead_id: str,
        *,
        converted_status: str | None = None,
        account_id: str | None = None,
        contact_id: str | None = None,
    ) -> dict:
        """Convert one Lead; returns a LeadConvertResult ({leadId, accountId, contactId, ...})."""
        with self.lock:
            lead = self.get("Lead", lead_id)  # 404 NOT_FOUND / ENTITY_IS_DELETED
            if lead["IsConverted"]:
                raise ApiError(
                    400, "CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead"
                )
            status = self._converted_status(converted_status)
            point = self.savepoint()
            try:
                account = self._existing("Account", account_id) or self.insert(
                    "Account", {"Name": lead.get("Company") or lead["Name"]}
                )
                contact = self._existing("Contact", contact_id) or self.insert(
                    "Contact", self._contact_values(lead, account)
                )
            except RecordError as exc:
                self.rollback_to(point)
                self.release(point)
                err = exc.errors[0]
                raise ApiError(400, err.code, err.message, err.fields) from None
            self._change(
                "Lead",
                lead,
                {
                    "IsConverted": True,
                    "ConvertedDate": self.clock.now().date().isoformat(),
                    "ConvertedAccountId": account,
                    "ConvertedContactId": contact,
                    "Status": status,
                },
            )
            members = self.indexes[("CampaignMember", "LeadId")].get(lead["Id"].casefold(), ())
            for mid in sorted(members):
                self._change(
                    "CampaignMember", self.records["CampaignMember"][mid], {"ContactId": contact}
                )
            self.release(point)
            return {
                "leadId": lead["Id"],
                "accountId": account,
                "contactId": contact,
                "opportunityId": None,
                "success": True,
                "errors": [],
            }

    def _converted_status(self, wanted: str | None) -> str:
        converted = [r for r in self.records["LeadStatus"].values() if r["IsConverted"]]
        if wanted is None and converted:
            return min(converted, key=lambda r: r["SortOrder"] or 0)["MasterLabel"]
        match = next((r for r in converted if r["MasterLabel"] == wanted), None)
        if match is None:
            raise ApiError(
                400,
                "INVALID_STATUS",
                f"invalid convertedStatus: {wanted!r} is not a converted Lead Status"
                if wanted
                else "no Lead Status is marked converted",
            )
        return match["MasterLabel"]

    def _existing(self, sobject: str, rid: str | None) -> str | None:
        if rid is None:
            return None
        record = self.records[sobject].get(to18(rid) or "")
        if record is None or record["IsDeleted"]:
            raise ApiError(400, "INVALID_CROSS_REFERENCE_KEY", f"invalid {sobject} id: {rid}")
        return record["Id"]

    def _contact_values(self, lead: dict, account: str) -> dict:
        values = {c: lead.get(f) for f, c in CONTACT_FROM_LEAD.items() if lead.get(f) is not None}
        values["AccountId"] = account
        return values
