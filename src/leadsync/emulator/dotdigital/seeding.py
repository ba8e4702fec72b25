"""Filling an account from the (schema-validated) "dotdigital" seed section; SeedError names
the seed path of a value that breaks a Dotdigital rule."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from leadsync.emulator.dotdigital import exceptions as exc
from leadsync.emulator.dotdigital.books import SYSTEM_DATAFIELDS, AddressBook
from leadsync.emulator.dotdigital.clock import as_time

if TYPE_CHECKING:
    from leadsync.emulator.dotdigital.models import Account


def seed_account(acct: Account, spec: dict[str, Any], now: datetime, where: str) -> None:
    for d_i, df in enumerate(spec.get("datafields") or []):
        if str(df["name"]).upper() in SYSTEM_DATAFIELDS:
            continue  # always there; listing it again is harmless
        try:
            acct.create_datafield(
                df["name"], df.get("type", "String"), df.get("visibility"), df.get("default")
            )
        except exc.DotdigitalError as e:
            raise exc.SeedError(f"{where}.datafields[{d_i}]: {e.message}") from None
    for c_i, c in enumerate(spec.get("contacts") or []):
        _seed_contact(acct, None, c, now, f"{where}.contacts[{c_i}]")
    for b_i, b in enumerate(spec.get("address_books") or []):
        bwhere = f"{where}.address_books[{b_i}]"
        try:
            book = acct.create_book(b["name"], b.get("visibility"), b.get("id"))
        except exc.DotdigitalError as e:
            raise exc.SeedError(f"{bwhere}: {e.message}") from None
        for c_i, c in enumerate(b.get("contacts") or []):
            _seed_contact(acct, book, c, now, f"{bwhere}.contacts[{c_i}]")
        gens = b.get("generate")
        for g_i, gspec in enumerate(gens if isinstance(gens, list) else [gens] if gens else []):
            try:
                acct.generate(book, gspec, now)
            except exc.ControlError as e:
                raise exc.SeedError(f"{bwhere}.generate[{g_i}]: {e.message}") from None


def _seed_contact(
    acct: Account, book: AddressBook | None, c: dict[str, Any], now: datetime, where: str
) -> None:
    try:
        added = as_time(c.get("added_at"), now)
        created = as_time(c.get("created_at"), added)
        updated = as_time(c.get("modified_at"), added)
    except ValueError as e:
        raise exc.SeedError(f"{where}: {e}") from None
    try:
        existed = acct.contact_by_email(str(c["email"])) is not None
        contact, _ = acct.upsert_contact(
            c["email"],
            c.get("datafields"),
            c.get("opt_in_type"),
            c.get("email_type"),
            updated,
            c.get("status"),
        )
        if not existed:
            contact.created = min(created, updated)
            contact.updated = updated
        if book is not None and not acct.is_member(book, contact):
            book.append_explicit(contact.id, added)
    except exc.DotdigitalError as e:
        raise exc.SeedError(f"{where}: {e.message}") from None
