"""Request handlers of the emulated Dotdigital API: read the request (params.py), ask the model
(the models package, imports.py), answer in Dotdigital's wire shape (shapes.py). No rule lives here.

API handlers take `(request, account, args, **path values)`, where `args` are the query
parameters with lower-cased names; control handlers take `(backend, request, **path values)`.
Status codes follow the v2 swagger (the service's generated contract) where it and the readme
docs disagree: `PUT /v2/contacts/{id}` answers 200 (the docs example says 201).
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import timedelta
from itertools import islice
from typing import Any
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from leadsync.emulator.dotdigital import exceptions as exc
from leadsync.emulator.dotdigital import imports
from leadsync.emulator.dotdigital import params as p
from leadsync.emulator.dotdigital import shapes as wire
from leadsync.emulator.dotdigital.clock import parse_when
from leadsync.emulator.dotdigital.models import (
    Account,
    ContactChange,
    ContactRecord,
    DotdigitalBackend,
    ImportSettings,
)

# v2's CSV import names its merge options by number (docs: 0 all fields, 1 skip blank values,
# 2 only fill empty fields).
V2_MERGE = {"0": "overwrite", "1": "overwriteIfNotEmpty", "2": "overwriteIfEmpty"}
# v3's PATCH names them in its query string, kebab-case.
V3_PATCH_MERGE = {"overwrite": "overwrite", "overwrite-if-not-empty": "overwriteIfNotEmpty"}
V3_PATCH_MERGE["overwrite-if-empty"] = "overwriteIfEmpty"


# json.dumps(body, ensure_ascii=False)'s text; answers are trees built per request, never
# circular, so the encoder skips the per-container cycle bookkeeping
_ENCODE = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        _ENCODE(body),
        status=status,
        headers=headers or {},
        content_type="application/json; charset=utf-8",
    )


def no_content() -> Response:
    return Response(status=204)


# -- v2: account, books, datafields ------------------------------------------------------------


def account_info(request: Request, acct: Account, args: dict[str, str]) -> Response:
    return json_response(wire.account_info(acct, request.host_url, acct.backend.clock.now()))


def server_time(request: Request, acct: Account, args: dict[str, str]) -> Response:
    return json_response(wire.iso(acct.backend.clock.now()))


def books(request: Request, acct: Account, args: dict[str, str]) -> Response:
    if request.method == "POST":
        body = p.ci(p.json_body(request))
        book = acct.create_book(body.get("name"), body.get("visibility"))
        return json_response(wire.address_book(book), 201)
    select, skip = p.paging(args)
    found = sorted(acct.books.values(), key=lambda b: b.id)[skip : skip + select]
    return json_response([wire.address_book(b) for b in found])


def book(request: Request, acct: Account, args: dict[str, str], book_id: str) -> Response:
    return json_response(wire.address_book(acct.book(p.book_id(book_id))))


def datafields(request: Request, acct: Account, args: dict[str, str]) -> Response:
    if request.method == "POST":
        body = p.ci(p.json_body(request))
        df = acct.create_datafield(
            body.get("name"), body.get("type"), body.get("visibility"), body.get("defaultvalue")
        )
        return json_response(wire.datafield(df), 201)
    return json_response([wire.datafield(df) for df in acct.datafields.values()])


# -- v2: members of a book ---------------------------------------------------------------------


def book_contacts(request: Request, acct: Account, args: dict[str, str], book_id: str) -> Response:
    target = acct.book(p.book_id(book_id))
    if request.method == "DELETE":
        target.empty()
        return no_content()
    if request.method == "POST":
        body = p.ci(p.json_body(request))
        contact = acct.add_to_book(
            target,
            body.get("email"),
            p.v2_datafields(body.get("datafields")),
            body.get("optintype"),
            body.get("emailtype"),
        )
        return json_response(wire.v2_contact(acct, contact, True))
    full = p.bool_arg(args, "withfulldata")
    select, skip = p.paging(args)
    members = islice(acct.book_members(target, skip=skip), select)
    return json_response([wire.v2_contact(acct, c, full) for _, c in members])


def book_modified_since(
    request: Request, acct: Account, args: dict[str, str], book_id: str, date: str
) -> Response:
    target = acct.book(p.book_id(book_id))
    try:
        since = parse_when(date)
    except ValueError:
        raise exc.parameter_invalid(f"The date '{date}' is not a valid ISO 8601 date") from None
    full = p.bool_arg(args, "withfulldata")
    select, skip = p.paging(args)
    members = islice(acct.book_members(target, since, skip=skip), select)
    return json_response([wire.v2_contact(acct, c, full) for _, c in members])


def book_contact(
    request: Request, acct: Account, args: dict[str, str], book_id: str, contact_id: str
) -> Response:
    """`DELETE .../contacts/{contactId}`: 404 for a contact the account does not have; a
    contact that is not a member is already where the caller wants it (204)."""
    target = acct.book(p.book_id(book_id))
    if not contact_id.isdigit() or acct.contact_by_id(int(contact_id)) is None:
        raise exc.contact_not_found()
    acct.remove_members(target, [int(contact_id)])
    return no_content()


def book_contacts_delete(
    request: Request, acct: Account, args: dict[str, str], book_id: str, everyone: bool = False
) -> Response:
    """`POST .../contacts/delete` (a JSON array of contact ids; ids that are not members are
    ignored) and `POST .../contacts/delete-all`. The service works in the background; the
    emulator removes at once and reports the request `Started`, its progress `Completed`."""
    target = acct.book(p.book_id(book_id))
    if everyone:
        target.empty()
    else:
        acct.remove_members(target, p.contact_ids(request))
    return json_response({"id": acct.record_deletion(), "status": "Started"}, 202)


def deletion(request: Request, acct: Account, args: dict[str, str], deletion_id: str) -> Response:
    status = acct.deletions.get(deletion_id.lower())
    if status is None:
        raise exc.parameter_invalid(f"No deletion request has the id '{deletion_id}'")
    return json_response({"id": deletion_id.lower(), "status": status})


# -- v2: one contact ---------------------------------------------------------------------------


def contact(request: Request, acct: Account, args: dict[str, str], ident: str) -> Response:
    if request.method == "PUT":
        return _update_v2_contact(request, acct, ident)
    found = acct.contact_by_id(int(ident)) if ident.isdigit() else acct.contact_by_email(ident)
    if found is None:
        raise exc.contact_not_found()
    return json_response(wire.v2_contact(acct, found, True))


def _update_v2_contact(request: Request, acct: Account, ident: str) -> Response:
    """`PUT /v2/contacts/{id}`: `email` is required (a different one renames the contact);
    data fields not named keep their values."""
    if not ident.isdigit():
        raise exc.parameter_invalid(f"The contact id '{ident}' is not a number")
    found = acct.contact_by_id(int(ident))
    if found is None:
        raise exc.contact_not_found()
    body = p.ci(p.json_body(request))
    if body.get("email") is None:
        raise exc.v2_error(400, "Email is required", "ERROR_CONTACT_INVALID")
    change = ContactChange(
        email=body.get("email"),
        datafields=p.v2_datafields(body.get("datafields")),
        opt_in_type=body.get("optintype"),
        email_type=body.get("emailtype"),
    )
    acct.update_contact(found, change)
    return json_response(wire.v2_contact(acct, acct.contact_by_id(found.id) or found, True))


# -- v2: CSV import ----------------------------------------------------------------------------


def book_import(
    request: Request, acct: Account, args: dict[str, str], book_id: str, merge: str = "0"
) -> Response:
    """`POST .../contacts/import[/with-merge-option/{0|1|2}]` with `ApiFileMedia`
    (`{"fileName", "data": base64}`). Only CSV is read: another file is `InvalidFileFormat`."""
    target = acct.book(p.book_id(book_id))
    if merge not in V2_MERGE:
        raise exc.parameter_invalid(f"The merge option '{merge}' must be 0, 1 or 2")
    body = p.ci(p.json_body(request))
    name, data = body.get("filename"), body.get("data")
    if not isinstance(name, str) or not isinstance(data, str) or not name or not data:
        raise exc.parameter_invalid("The file needs a fileName and base64 data")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise exc.parameter_invalid("The file data is not valid base64") from None
    text = None
    if name.lower().endswith(".csv"):
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = None
    job = imports.submit(acct, imports.csv_work(acct, target, text, V2_MERGE[merge]))
    return json_response({"id": job.id, "status": "NotFinished"}, 202)


def import_status(
    request: Request, acct: Account, args: dict[str, str], import_id: str
) -> Response:
    job = imports.poll(acct, import_id)
    if job is None:
        raise exc.import_not_found()
    return json_response(wire.v2_import(job))


def import_report(
    request: Request, acct: Account, args: dict[str, str], import_id: str, faults: bool = False
) -> Response:
    job = acct.imports.get(import_id.lower())
    if job is None or job.status != "Finished" or not job.fault_header:
        raise exc.import_report_not_found()
    if faults:
        return Response(
            wire.v2_import_faults(job).encode("utf-8"), content_type="application/octet-stream"
        )
    return json_response(wire.v2_import_report(job))


# -- v3 ----------------------------------------------------------------------------------------


def v3_contacts(request: Request, acct: Account, args: dict[str, str]) -> Response:
    fields = p.v3_fields(acct, args.get("data-fields"))
    include = p.v3_include(args.get("include"))
    query = p.v3_query(args)
    position = p.decode_marker(args["marker"], query.kind) if "marker" in args else 0
    if query.book_id is not None:
        target = acct.books.get(query.book_id)
        if target is None:
            raise exc.invalid_filter(args["~listid"])
        members = acct.book_members(target, query.since, position=position, mode=query.mode)
        rows = list(islice(members, query.limit + 1))
        page = [c for _, c in rows[: query.limit]]
        next_pos = rows[query.limit][0] if len(rows) > query.limit else None
    else:
        stream = p.account_stream(acct, query.mode, query.since, position)
        items = list(islice(stream, query.limit + 1))
        page = items[: query.limit]
        next_pos = page[-1].id if len(items) > query.limit else None
    base = request.host_url.rstrip("/") + request.path
    keep = [(k, v) for k, v in request.args.items(multi=True) if k.lower() != "marker"]

    def link(marker: str) -> dict[str, str]:
        return {"marker": marker, "link": base + "?" + urlencode([*keep, ("marker", marker)])}

    links: dict[str, Any] = {
        "self": link(args.get("marker") or p.encode_marker(query.kind, 0)),
        "first": link(p.encode_marker(query.kind, 0)),
    }
    if next_pos is not None:
        links["next"] = link(p.encode_marker(query.kind, next_pos))
    items_out = [wire.v3_contact(acct, c, fields, include) for c in page]
    return json_response({"_links": links, "_items": items_out})


def v3_contact(
    request: Request, acct: Account, args: dict[str, str], identifier: str, value: str
) -> Response:
    """`GET` and `PATCH /contacts/v3/{identifier}/{value}`. PATCH imports one contact: it
    updates an existing one with the fields given (merge option from the query) or, found by
    email and absent, creates it (201). A contactId that does not exist answers 404."""
    found = p.v3_lookup(acct, identifier, value)
    if request.method == "GET":
        if found is None:
            raise p.v3_not_found(identifier, value)
        return json_response(wire.v3_full_contact(acct, found))
    merge_raw = args.get("merge-option", "overwrite")
    if merge_raw not in V3_PATCH_MERGE:
        raise exc.V3Error(
            400, "contacts:invalidMergeOption", f"The merge option '{merge_raw}' is invalid"
        )
    if found is None and identifier == "contactId":
        raise p.v3_not_found(identifier, value)
    rec = p.v3_patch_body(request)
    ids = rec.get("identifiers") if isinstance(rec.get("identifiers"), dict) else {}
    email = ids.get("email", value if identifier == "email" else None)
    try:
        targets = imports.list_targets(acct, rec.get("lists"))
        change = imports.v3_change(rec, email, V3_PATCH_MERGE[merge_raw])
        saved = _v3_save(acct, found, change)
    except imports.ImportFailure as e:
        raise p.v3_record_error(e) from None
    now = acct.backend.clock.now()
    for target in targets:
        if not acct.is_member(target, saved):
            target.append_explicit(saved.id, now)
    return json_response(wire.v3_full_contact(acct, saved), 200 if found else 201)


def _v3_save(acct: Account, found: ContactRecord | None, change: ContactChange) -> ContactRecord:
    try:
        return imports.write_contact(acct, found, change, acct.backend.clock.now())
    except imports.ImportFailure as e:
        if e.code == "duplicateIdentifier":
            raise exc.V3Error(
                409,
                "contacts:idAlreadyExists",
                f"The id value '{change.email}' for the identifier 'email' already exists. "
                "All identifiers must be unique!",
            ) from None
        raise


def v3_import(request: Request, acct: Account, args: dict[str, str]) -> Response:
    """`PUT /contacts/v3/import`: the request as a whole is checked (a JSON object with a
    non-empty `contacts` array and a known `mergeOption`); each record then stands alone."""
    records, merge = p.v3_import_body(request)
    try:
        job = imports.submit(acct, imports.v3_work(acct, records, merge))
    except exc.DotdigitalError:
        raise exc.V3Error(
            429,
            "contacts:tooManyActiveImports",
            "Your import request cannot be accepted as too many imports are being processed "
            "for your account. Please wait for an import to complete and then resubmit.",
        ) from None
    return json_response({"importId": job.id}, 202)


def v3_import_status(
    request: Request, acct: Account, args: dict[str, str], import_id: str
) -> Response:
    job = imports.poll(acct, import_id)
    if job is None:
        raise exc.V3Error(
            404,
            "contacts:importNotFound",
            f"The import request '{import_id}' could not be found!",
        )
    return json_response(wire.v3_import_status(job))


# -- control -----------------------------------------------------------------------------------


def ctl_generate(backend: DotdigitalBackend, request: Request, name: str, book: str) -> Response:
    acct = _control_account(backend, name)
    target = acct.find_book(book)
    if target is None:
        raise exc.ControlError(404, f"account {name!r} has no address book {book!r}")
    g = acct.generate(target, p.control_body(request))
    generated = {"count": g.count, "first_contact_id": g.id_base, "added_at": wire.iso(g.added_at)}
    return json_response({"address_book": wire.address_book(target), "generated": generated}, 201)


def ctl_clock(backend: DotdigitalBackend, request: Request) -> Response:
    clock = backend.clock
    if request.method == "POST":
        offset = p.control_body(request).get("offset_seconds")
        if not isinstance(offset, (int, float)) or isinstance(offset, bool):
            raise exc.ControlError(400, "offset_seconds must be a number")
        clock.offset = timedelta(seconds=offset)
    return json_response(
        {"offset_seconds": clock.offset.total_seconds(), "now": wire.iso(clock.now())}
    )


def ctl_contact(backend: DotdigitalBackend, request: Request, name: str, email: str) -> Response:
    acct = _control_account(backend, name)
    spec = p.control_body(request)
    values = spec.get("datafields") or {}
    if not isinstance(values, dict):
        raise exc.ControlError(400, "datafields must be an object")
    found, created = acct.upsert_contact(email, values, status=spec.get("status"))
    return json_response({"contact": wire.v2_contact(acct, found, True)}, 201 if created else 200)


def ctl_settings(backend: DotdigitalBackend, request: Request, name: str) -> Response:
    """The account's modelling switches (the models package): does a book join modify a contact?"""
    acct = _control_account(backend, name)
    if request.method == "POST":
        spec = p.control_body(request)
        unknown = sorted(set(spec) - {"join_updates_modified"})
        if unknown:
            raise exc.ControlError(400, f"unknown setting(s): {', '.join(unknown)}")
        value = spec.get("join_updates_modified", acct.join_updates_modified)
        if not isinstance(value, bool):
            raise exc.ControlError(400, "join_updates_modified must be true or false")
        acct.join_updates_modified = value
    return json_response({"join_updates_modified": acct.join_updates_modified})


def ctl_imports(backend: DotdigitalBackend, request: Request, name: str) -> Response:
    """How the account's next imports behave: `pending_polls` status reads answer NotFinished
    (nothing applied yet), then the import ends with `outcome` (default Finished)."""
    acct = _control_account(backend, name)
    if request.method == "POST":
        spec = p.control_body(request)
        polls = spec.get("pending_polls", 0)
        outcome = spec.get("outcome", "Finished")
        if not isinstance(polls, int) or isinstance(polls, bool) or polls < 0:
            raise exc.ControlError(400, "pending_polls must be a non-negative integer")
        if outcome not in imports.OUTCOMES:
            raise exc.ControlError(400, "outcome must be one of " + ", ".join(imports.OUTCOMES))
        acct.import_settings = ImportSettings(polls, outcome)
    s = acct.import_settings
    return json_response({"pending_polls": s.pending_polls, "outcome": s.outcome})


def _control_account(backend: DotdigitalBackend, name: str) -> Account:
    acct = backend.accounts.get(name)
    if acct is None:
        raise exc.ControlError(404, f"no account named {name!r}")
    return acct
