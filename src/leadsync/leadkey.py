"""The Lead upsert key: the custom field Leadsync_Key__c and the value leadsync writes into it.

Why a key at all: Salesforce finishes a request whose client has gone away. A run killed while
its create was in flight, followed at once by another run (a restarted pod, a CI retry), could
look for the Leads, not find them yet, and create them again; then the first request
completes. With a unique External ID field on Lead, every Lead write is an upsert on that key,
and a repeated write updates the Lead the first one made instead of making a second.

What `plan` checks and `sync` relies on lives here, once: the field is usable when describe
says it is a unique External ID text field the integration user can write. Pure: it reads a
describe and builds strings, nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

from leadsync.salesforce.model import FieldInfo, ObjectDescribe

KEY_FIELD = "Leadsync_Key__c"
SETUP_HINT = (
    "Setup > Object Manager > Lead > Fields & Relationships > New: Text, length 255, field name "
    f"{KEY_FIELD.removesuffix('__c')}, Unique (case-insensitive), External ID; give the "
    "integration user Edit access to it"
)


def lead_key(account: str, contact_id: int) -> str:
    """`<account name>:<Dotdigital contact id>`, the key of the one Lead a contact becomes.

    One contact, one key: a Dotdigital contact id is stable for the life of the contact and
    unique within its account (the account name scopes it, since two Dotdigital accounts
    number their contacts independently). So a repeated write of the same member (re-sent
    after a crash, or finished by Salesforce after its client died) can never make a second
    Lead, and the same contact in two create_leads books of one account is one Lead. Not the
    email: a contact's email can change, and orgs legitimately hold several Leads with one
    email. Later features pair Dotdigital contacts with their Leads by this key.
    """
    return f"{account}:{int(contact_id)}"


@dataclass(frozen=True, slots=True)
class KeyField:
    """What the org's Lead describe says about Leadsync_Key__c."""

    field: FieldInfo | None  # None: the field does not exist (or the user cannot see it)
    problems: tuple[str, ...] = ()  # why an existing field cannot serve as the upsert key

    @property
    def usable(self) -> bool:
        return self.field is not None and not self.problems

    @property
    def name(self) -> str | None:
        """The field's API name when leadsync can upsert by it, else None."""
        return self.field.name if self.usable and self.field is not None else None


def key_field(lead: ObjectDescribe) -> KeyField:
    """Leadsync_Key__c on this Lead describe: absent, usable, or present with problems."""
    found = next((f for f in lead.fields.values() if f.name.lower() == KEY_FIELD.lower()), None)
    if found is None:
        return KeyField(None)
    problems = []
    if found.type != "string":
        problems.append(f"it is a {found.type} field, not Text")
    if not found.external_id:
        problems.append("it is not marked External ID")
    if not found.unique:
        problems.append("it is not marked Unique")
    if not found.createable:
        problems.append("the integration user cannot edit it (field-level security)")
    return KeyField(found, tuple(problems))
