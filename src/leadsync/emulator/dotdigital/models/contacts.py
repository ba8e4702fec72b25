"""Contacts: one per address in an account, stored or still virtual (a generator's member).

A generated member is materialised (copied into the contact table) only when something modifies
it; `touched` remembers which generated index became which stored contact, so the member stays
that contact even after its email changes. Writes take a merge option and are all or nothing;
`updated` moves only when a stored value changes (or, for a book join, per
`join_updates_modified`: see the models package docstring).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from leadsync.emulator.dotdigital import exceptions as exc
from leadsync.emulator.dotdigital.books import ContactRecord, Generator
from leadsync.emulator.dotdigital.models.base import canon, checked
from leadsync.emulator.dotdigital.models.datafields import Datafields

EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
OPT_IN_TYPES = ("Unknown", "Single", "Double", "VerifiedDouble")
EMAIL_TYPES = ("PlainText", "Html")
# How a write merges into values a contact has (v3 names; v2's CSV import numbers them 0, 1, 2).
MERGE_OPTIONS = ("overwrite", "overwriteIfNotEmpty", "overwriteIfEmpty")
CHANGEABLE_STATUSES = ("Subscribed", "Unsubscribed", "Suppressed")


@dataclass
class ContactChange:
    """What a contact update asks for; None leaves a property as it is."""

    email: Any = None
    datafields: dict[str, Any] | None = None
    opt_in_type: Any = None
    email_type: Any = None
    status: Any = None
    merge: str = "overwrite"


def _empty(value: Any) -> bool:
    return value is None or value == ""


def merged_values(current: dict[str, Any], incoming: dict[str, Any], option: str) -> dict[str, Any]:
    """The datafield values a write changes. `overwrite` writes every given value (an empty one
    clears the field), `overwriteIfNotEmpty` skips empty given values, `overwriteIfEmpty` only
    fills fields that are empty now."""
    if option not in MERGE_OPTIONS:
        raise ValueError(f"unknown merge option {option!r}")
    out = {}
    for key, value in incoming.items():
        if option == "overwriteIfNotEmpty" and _empty(value):
            continue
        if option == "overwriteIfEmpty" and not _empty(current.get(key)):
            continue
        if current.get(key) != value:
            out[key] = value
    return out


class Contacts(Datafields):
    """Finding, creating, changing and materialising contacts."""

    def contact_by_email(self, email: str) -> ContactRecord | None:
        email = email.strip().lower()
        c = self.by_email.get(email)
        if c is not None:
            return c
        for g in self.generators:
            i = g.index_of(email)
            if i is not None and self._touched_id(g, i) is None:
                return g.contact_at(i)
        return None  # also for a generated address whose contact changed its email

    def _touched_id(self, g: Generator, i: int) -> int | None:
        return self.touched.get(g.pattern, {}).get(g.start + i)

    def contact_by_id(self, contact_id: int) -> ContactRecord | None:
        c = self.contacts.get(contact_id)
        if c is not None:
            return c
        for g in self.generators:
            i = g.index_of_id(contact_id)
            if i is not None:
                canon = self.contact_by_email(g.email_at(i))
                return canon if canon is not None and canon.id == contact_id else None
        return None

    def generated_member(self, g: Generator, i: int) -> ContactRecord:
        """Member i of generator g, resolved to the account's one contact for that address."""
        touched = self._touched_id(g, i)
        if touched is not None:
            return self.contacts[touched]
        email = g.email_at(i)
        c = self.by_email.get(email)
        if c is not None:
            return c
        for other in self.generators:
            if other is g:
                break
            j = other.index_of(email)
            if j is not None:
                return other.contact_at(j)
        return g.contact_at(i)

    def materialise(self, c: ContactRecord) -> ContactRecord:
        if c.generator is None:
            return c
        g, n = c.generator, c.index
        c.generator = None
        self._store(c)
        assert n is not None
        self.touched.setdefault(g.pattern, {})[n] = c.id
        return c

    def _store(self, c: ContactRecord) -> None:
        self.contacts[c.id] = c
        self.by_email[c.email] = c
        bisect.insort(self.sorted_ids, c.id)

    def upsert_contact(
        self,
        email: Any,
        datafields: dict[str, Any] | None = None,
        opt_in_type: Any = None,
        email_type: Any = None,
        when: datetime | None = None,
        status: str | None = None,
        *,
        touch: bool = True,
    ) -> tuple[ContactRecord, bool]:
        """Create or modify a contact -> (contact, created). Modifying sets `updated`; with
        `touch` false only when a value actually changes (see `join_updates_modified`)."""
        if not isinstance(email, str) or not EMAIL.fullmatch(email.strip()):
            raise exc.v2_error(400, "Email is not valid", "ERROR_CONTACT_INVALID")
        email = email.strip().lower()
        opt = None if opt_in_type is None else canon(opt_in_type, OPT_IN_TYPES)
        if opt_in_type is not None and opt is None:
            raise exc.v2_error(400, "OptInType is not valid", "ERROR_CONTACT_INVALID")
        etype = None if email_type is None else canon(email_type, EMAIL_TYPES)
        if email_type is not None and etype is None:
            raise exc.v2_error(400, "EmailType is not valid", "ERROR_CONTACT_INVALID")
        values = self.clean_datafields(datafields or {})
        now = when or self.backend.clock.now()
        existing = self.contact_by_email(email)
        if existing is None:
            c = ContactRecord(
                id=self.backend.next_contact_ids(1),
                email=email,
                created=now,
                updated=now,
                datafields=values,
                opt_in_type=opt or "Unknown",
                email_type=etype or "Html",
                status=status or "Subscribed",
            )
            self._store(c)
            return c, True
        before = (
            dict(existing.datafields),
            existing.opt_in_type,
            existing.email_type,
            existing.status,
        )
        c = self.materialise(existing)
        c.datafields.update(values)
        if opt:
            c.opt_in_type = opt
        if etype:
            c.email_type = etype
        if status:
            c.status = status
        if touch or before != (c.datafields, c.opt_in_type, c.email_type, c.status):
            c.updated = max(c.updated, now)
        return c, False

    def update_contact(
        self, c: ContactRecord, change: ContactChange, when: datetime | None = None
    ) -> bool:
        """Apply a change to an existing contact, all or nothing; -> whether anything changed.

        `updated` (what `~modified` and modified-since read) moves only when a stored value
        changes: writing the values a contact already has is not a modification."""
        email = self._new_email(c, change.email)
        opt = checked(change.opt_in_type, OPT_IN_TYPES, "OptInType")
        etype = checked(change.email_type, EMAIL_TYPES, "EmailType")
        status = checked(change.status, CHANGEABLE_STATUSES, "Status")
        values = merged_values(
            c.datafields, self.clean_datafields(change.datafields or {}), change.merge
        )
        changes = {
            "email": email if email != c.email else None,
            "opt_in_type": opt if opt != c.opt_in_type else None,
            "email_type": etype if etype != c.email_type else None,
            "status": status if status != c.status else None,
        }
        changes = {k: v for k, v in changes.items() if v is not None}
        if not values and not changes:
            return False
        c = self.materialise(c)
        if "email" in changes:
            del self.by_email[c.email]
            self.by_email[email] = c
        for key, value in changes.items():
            setattr(c, key, value)
        c.datafields.update(values)
        c.updated = max(c.updated, when or self.backend.clock.now())
        return True

    def _new_email(self, c: ContactRecord, raw: Any) -> str:
        if raw is None:
            return c.email
        if not isinstance(raw, str) or not EMAIL.fullmatch(raw.strip()):
            raise exc.v2_error(400, "Email is not valid", "ERROR_CONTACT_INVALID")
        email = raw.strip().lower()
        other = self.contact_by_email(email)
        if other is not None and other.id != c.id:
            raise exc.EmailTaken(email)
        return email
