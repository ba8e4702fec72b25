"""The applied mapping as the update step applies it, per Salesforce object.

`rules` pairs each mapping row with what the org's describe says of its field (sync/updates.py
FieldRule), asked once per run and object and only when a linked person is evaluated: an idle
run needs no describe. The fields a read selects and the datafields a contact read asks for
come from here too, so reads and rules cannot disagree on what is mapped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from leadsync.sync.updates import FieldRule, rules_for

if TYPE_CHECKING:
    from leadsync.salesforce.client import SalesforceClient
    from leadsync.sync.applied import AccountView
    from leadsync.sync.mapping import Row

# Every object has them; a described read selects them whatever describe lists.
ALWAYS = ("Id", "SystemModstamp", "IsDeleted")
CONVERTED = ("IsConverted", "ConvertedContactId")  # a Lead's conversion, read with it


class MappedFields:
    """The account's mapping rows by object, with the describe of their fields."""

    def __init__(self, account: AccountView, sf: SalesforceClient) -> None:
        self.account = account
        self.sf = sf
        self._rules: dict[str, tuple[FieldRule, ...]] = {}

    def rows(self, sobject: str) -> tuple[Row, ...]:
        return self.account.rows if sobject == "Lead" else self.account.contact_rows

    def rules(self, sobject: str) -> tuple[FieldRule, ...]:
        if sobject not in self._rules:
            describe = self.sf.describe(sobject)
            self._rules[sobject] = rules_for(
                sobject, self.rows(sobject), describe, self.account.datafield_types
            )
        return self._rules[sobject]

    def same_fields(self) -> set[str]:
        """Datafields mapped to the same field name for Leads and Contacts: their bases hold
        across a conversion."""
        lead = {r.datafield: r.salesforce for r in self.rules("Lead")}
        contact = {r.datafield: r.salesforce for r in self.rules("Contact")}
        return {df for df, name in lead.items() if contact.get(df) == name}

    def datafields(self) -> list[str]:
        rows = (*self.account.rows, *self.account.contact_rows)
        return sorted({r.datafield for r in rows})

    def mapped(self, sobject: str) -> list[str]:
        """The fields a change query selects, from the applied mapping alone (checked against
        the org by plan), so that an idle run needs no describe."""
        converted = CONVERTED if sobject == "Lead" else ()
        names = ("Id", "SystemModstamp", "IsDeleted", *converted)
        return list(dict.fromkeys((*names, *(r.salesforce for r in self.rows(sobject)))))

    def described(self, sobject: str, extra: Sequence[str] = ()) -> list[str]:
        """The mapped fields the object still has (describe), with `extra`."""
        described = self.sf.describe(sobject).fields
        wanted = ["Id", *(r.salesforce for r in self.rules(sobject) if r.info is not None)]
        if sobject == "Lead":
            wanted += CONVERTED
        wanted += extra
        return list(dict.fromkeys(f for f in wanted if f in ALWAYS or f in described))
