"""The lead mapping `leadsync init` proposes: Lead fields matched to datafields by name. Pure.

Which Lead fields get a row, in this order:
1. FirstName, LastName, Company: every account that creates Leads must map them (LS102);
2. every other field the org requires on create (the plan's rule, `org_required_fields`);
3. every other createable standard Lead field some datafield matches (Title, Phone, ...).
Rows of 1 and 2 are written even when nothing matches, as `datafield: TODO`, so `validate`
fails (LS110) until a person decides; rows of 3 only when matched. Email and Status are never
proposed: leadsync sets them itself.

How a datafield matches a field, strongest first (each row's comment says which):
the field's API name, ignoring case, punctuation and a custom field's `__c` (FIRSTNAME,
First_Name -> FirstName; REGION -> Region__c); the field's label (MOBILE_PHONE -> "Mobile
Phone"); Dotdigital's own name for it (POSTCODE -> PostalCode, ADDRESS -> Street). A
datafield is used at most once (LS105), and a type that cannot hold the field's values
(LS210) is no match.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from leadsync.config.codes import TODO_DATAFIELD
from leadsync.config.model import Direction
from leadsync.dotdigital.model import DataField
from leadsync.init.comments import one_line
from leadsync.leadrules import REQUIRED_LEAD_FIELDS, SET_BY_LEADSYNC
from leadsync.reconcile.diff import org_required_fields, types_fit
from leadsync.salesforce.model import FieldInfo, ObjectDescribe

# Written on every proposed row: the datafield fills the Lead when it is created, and nothing
# is ever written back into Dotdigital (README: what two-way does today is the same).
DIRECTION = Direction.DOTDIGITAL_TO_SALESFORCE
# Dotdigital's reserved datafields and common spellings whose names are not the Lead field's.
DOTDIGITAL_NAMES = {
    "postcode": "PostalCode",
    "zip": "PostalCode",
    "zipcode": "PostalCode",
    "address": "Street",
    "address1": "Street",
    "telephone": "Phone",
    "mobile": "MobilePhone",
    "mobilenumber": "MobilePhone",
    "jobtitle": "Title",
    "town": "City",
    "county": "State",
    "companyname": "Company",
    "organisation": "Company",
    "organization": "Company",
}
# Field types a datafield value cannot fill (ids, lookups, compound and binary fields).
UNMAPPABLE_TYPES = frozenset({"id", "reference", "address", "location", "base64", "anyType"})
PICKLIST_SHOWN = 6  # allowed values named in a restricted picklist's comment


@dataclass(frozen=True, slots=True)
class ProposedRow:
    salesforce: str
    datafield: str  # TODO_DATAFIELD when nothing matched
    note: str  # how it was matched, for the row's comment

    @property
    def undecided(self) -> bool:
        return self.datafield == TODO_DATAFIELD


@dataclass(frozen=True, slots=True)
class ProposedMapping:
    rows: tuple[ProposedRow, ...]
    unmapped: tuple[str, ...]  # datafields no row uses, sorted


def squash(name: str) -> str:
    """The name matching compares: lower case, letters and digits only."""
    return re.sub(r"[^0-9a-z]", "", name.casefold())


def _field_key(field: FieldInfo) -> str:
    name = field.name[:-3] if field.custom and field.name.endswith("__c") else field.name
    return squash(name)


def propose(lead: ObjectDescribe, datafields: Sequence[DataField]) -> ProposedMapping:
    fields = {f.name.lower(): f for f in lead.fields.values()}
    wanted = [fields.get(n.lower(), _placeholder(n)) for n in REQUIRED_LEAD_FIELDS]
    required = sorted(org_required_fields(lead), key=str.lower)
    wanted += [fields[n.lower()] for n in required if n.lower() in fields]
    why = {f.name.lower(): "needed to create Leads" for f in wanted}
    why.update({n.lower(): "required by the org" for n in required})
    needed = {f.name.lower() for f in wanted}
    optional = sorted(
        (f for f in lead.fields.values() if not f.custom and f.name.lower() not in needed),
        key=lambda f: f.name.lower(),
    )
    free = sorted(datafields, key=lambda d: d.name)
    rows: list[ProposedRow] = []
    for field, must in [*((f, True) for f in wanted), *((f, False) for f in optional)]:
        if must and field.name.lower() in {r.salesforce.lower() for r in rows}:
            continue
        if not _mappable(field):
            if must:
                rows.append(_todo(field, why, "cannot be filled from a datafield"))
            continue
        found = _match(field, free)
        if found is not None:
            datafield, how = found
            free.remove(datafield)
            note = _note(field, f"{datafield.name} {how}", why.get(field.name.lower()))
            rows.append(ProposedRow(field.name, datafield.name, note))
        elif must:
            rows.append(_todo(field, why, "no datafield matched"))
    return ProposedMapping(tuple(rows), tuple(d.name for d in free))


def _placeholder(name: str) -> FieldInfo:
    """A field the describe lacks (never in a real org): still proposed, so LS102 holds."""
    return FieldInfo(
        name, name, "string", nillable=True, createable=True, defaulted_on_create=False
    )


def _mappable(field: FieldInfo) -> bool:
    return (
        field.createable
        and field.type not in UNMAPPABLE_TYPES
        and field.name.lower() not in {name.lower() for name in SET_BY_LEADSYNC}
    )


def _match(field: FieldInfo, datafields: Iterable[DataField]) -> tuple[DataField, str] | None:
    fitting = [d for d in datafields if types_fit(d.type, field)]
    ways = (
        (lambda d: squash(d.name) == _field_key(field), "matches the field name"),
        (
            lambda d: squash(d.name) == squash(field.label),
            f'matches the field label "{one_line(field.label)}"',
        ),
        (
            lambda d: DOTDIGITAL_NAMES.get(squash(d.name), "").lower() == field.name.lower(),
            f"is Dotdigital's name for {field.name}",
        ),
    )
    for test, how in ways:
        hits = [d for d in fitting if test(d)]
        if hits:
            return hits[0], how  # datafields come sorted: the choice is stable
    return None


def _note(field: FieldInfo, how: str, why: str | None) -> str:
    parts = [why, how] if why else [how]
    allowed = [v.value for v in field.picklist_values if v.active]
    if field.restricted_picklist and allowed:
        more = len(allowed) - PICKLIST_SHOWN
        shown = ", ".join(one_line(v) for v in allowed[:PICKLIST_SHOWN])
        parts.append(f"restricted picklist: {shown}" + (f" and {more} more" if more > 0 else ""))
    return "; ".join(parts)


def _todo(field: FieldInfo, why: dict[str, str], what: str) -> ProposedRow:
    note = (
        f"{why[field.name.lower()]}, {what}: name the datafield that holds it "
        "(validate fails until then)"
    )
    return ProposedRow(field.name, TODO_DATAFIELD, note)
