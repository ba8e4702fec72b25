"""Every emulated endpoint's response body validates against Dotdigital's published documents.

The documents are read at test time from ../shared/reference/dotdigital-openapi/ (relative to
the repo root); they are reference data, not copied into the repo. The test FAILS when that
folder is absent (e.g. a fresh clone outside the team workspace).

- v2: the service's own generated OpenAPI 3.0 document ("v2 swagger", `nullable` is turned into
  JSON Schema `null` types) and the readme.io docs specs (OpenAPI 3.1 = JSON Schema 2020-12).
  The docs specs type contact datafield values as strings while their own examples show
  `"value": null`; for the responses that carry such values (add contact, get contact) only the
  v2 swagger is used.
- v3: the contacts service document (OpenAPI 3.0.3), `inline_response_200` and `errorResponse`.
$refs resolve through a `referencing` registry; formats (date-time, email) are checked.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

REPO = Path(__file__).resolve().parents[2]


def _find_specs() -> Path:
    """../shared from the repo root (developers and CI have it); LEADSYNC_SHARED overrides."""
    candidates = [Path(os.environ["LEADSYNC_SHARED"])] if os.environ.get("LEADSYNC_SHARED") else []
    candidates += [REPO.parent / "shared", Path("/work/shared")]
    for shared in candidates:
        if (shared / "reference" / "dotdigital-openapi").is_dir():
            return shared / "reference" / "dotdigital-openapi"
    return candidates[0] / "reference" / "dotdigital-openapi"


SPECS = _find_specs()
DOCS = {
    "v2": "dotdigital-v2-api-swagger.json",
    "v3": "dotdigital-contacts-service.json",
    "accounts": "accounts-and-utilities.yaml",
    "books": "Dotdigital-dotdigital-lists-address-books-2.0.0-resolved.yaml",
    "contacts": "Dotdigital-dotdigital-email-contacts-2.0.0-resolved.yaml",
    "datafields": "Dotdigital-dotdigital-contact-data-fields-2.0.0-resolved-1.yaml",
}
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


@pytest.fixture(autouse=True, scope="module")
def _specs_present() -> None:
    # A missing reference must fail loudly: a skipped fidelity check proves nothing.
    assert SPECS.is_dir(), (
        f"Dotdigital OpenAPI documents not found at {SPECS} (set LEADSYNC_SHARED)"
    )


def _nullable_to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 `nullable: true` -> JSON Schema that also admits null."""
    if isinstance(node, list):
        return [_nullable_to_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _nullable_to_json_schema(v) for k, v in node.items()}
    if out.get("nullable") is True:
        del out["nullable"]
        composite = any(k in out for k in ("$ref", "oneOf", "anyOf", "allOf"))
        if "type" in out and not composite:
            t = out["type"]
            out["type"] = [t, "null"] if isinstance(t, str) else [*t, "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


@functools.cache
def _documents() -> dict[str, Any]:
    docs = {}
    for key, name in DOCS.items():
        text = (SPECS / name).read_text(encoding="utf-8")
        doc = (
            json.loads(text)
            if name.endswith(".json")
            else yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        )
        if str(doc.get("openapi", "")).startswith("3.0"):
            doc = _nullable_to_json_schema(doc)
        docs[key] = doc
    return docs


@functools.cache
def _registry() -> Registry:
    registry: Registry = Registry()
    for key, doc in _documents().items():
        registry = registry.with_resource(
            f"urn:dd-spec:{key}", Resource.from_contents(doc, default_specification=DRAFT202012)
        )
    return registry


def _format_checker() -> jsonschema.FormatChecker:
    checker = jsonschema.FormatChecker()

    @checker.checks("date-time")
    def _date_time(value: object) -> bool:
        return not isinstance(value, str) or RFC3339.fullmatch(value) is not None

    return checker


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def response_schema_ref(
    doc: str, path: str, method: str, status: int, content: str = "application/json"
) -> str:
    """URI of a response schema; asserts the document declares that response."""
    op = _documents()[doc]["paths"][path][method]
    assert str(status) in op["responses"], f"{doc}: {method.upper()} {path} declares no {status}"
    response = op["responses"][str(status)]
    assert content in response.get("content", {}), (
        f"{doc}: {method.upper()} {path} {status} has no {content}"
    )
    pointer = "/".join(
        [
            "",
            "paths",
            _escape(path),
            method,
            "responses",
            str(status),
            "content",
            _escape(content),
            "schema",
        ]
    )
    return f"urn:dd-spec:{doc}#" + quote(pointer, safe="/~")


def component_ref(doc: str, name: str) -> str:
    return f"urn:dd-spec:{doc}#/components/schemas/{name}"


@functools.cache
def _validator(ref: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(
        {"$ref": ref}, registry=_registry(), format_checker=_format_checker()
    )


def assert_valid(body: Any, ref: str) -> None:
    validator = _validator(ref)
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    assert not errors, f"{ref}: " + "; ".join(
        f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]
    )


def check(r, status: int, *refs: str) -> Any:
    assert r.status_code == status, r.text
    body = r.json()
    for ref in refs:
        assert_valid(body, ref)
    return body


def test_validator_rejects_a_wrong_shape():
    """Guard: the machinery really validates (a camelCase slip or a null id must fail)."""
    ref = response_schema_ref("v2", "/v2/address-books/{id}", "get", 200)
    with pytest.raises(AssertionError):
        assert_valid(
            {"id": 1, "name": "x", "visibility": "Private", "contacts": 0, "Name": "x"}, ref
        )
    with pytest.raises(AssertionError):
        assert_valid({"id": None, "name": "x"}, ref)
    with pytest.raises(AssertionError):
        assert_valid({"_links": {}, "_items": []}, component_ref("v3", "inline_response_200"))
    contact = response_schema_ref("v2", "/v2/contacts/{id}", "get", 200)
    good = {
        "id": 1,
        "email": "a@b.co",
        "optInType": "Single",
        "emailType": "Html",
        "dataFields": None,
        "status": "Subscribed",
    }
    assert_valid(good, contact)
    with pytest.raises(AssertionError):
        assert_valid({**good, "dataFields": {"FIRSTNAME": "x"}}, contact)
    with pytest.raises(AssertionError):
        assert_valid({**good, "status": "subscribed"}, contact)
    with pytest.raises(AssertionError):
        assert_valid("yesterday", response_schema_ref("v2", "/v2/server-time", "get", 200))


def test_every_endpoint_matches_the_published_schemas(dd):
    dd.post("/v2/data-fields", json={"name": "AGE", "type": "Numeric"})
    # v2 account + utilities
    check(
        dd.get("/v2/account-info"),
        200,
        response_schema_ref("v2", "/v2/account-info", "get", 200),
        response_schema_ref("accounts", "/v2/account-info", "get", 200),
    )
    check(
        dd.get("/v2/server-time"),
        200,
        response_schema_ref("v2", "/v2/server-time", "get", 200),
        response_schema_ref("accounts", "/v2/server-time", "get", 200, "text/plain"),
    )
    # address books
    created = check(
        dd.post("/v2/address-books", json={"name": "Schema book", "visibility": "Public"}),
        201,
        response_schema_ref("v2", "/v2/address-books", "post", 201),
        response_schema_ref("books", "/v2/address-books", "post", 200),  # docs say 200, swagger 201
    )
    book = created["id"]
    check(
        dd.get("/v2/address-books?select=10&skip=0"),
        200,
        response_schema_ref("v2", "/v2/address-books", "get", 200),
        response_schema_ref("books", "/v2/address-books", "get", 200),
    )
    check(
        dd.get(f"/v2/address-books/{book}"),
        200,
        response_schema_ref("v2", "/v2/address-books/{id}", "get", 200),
        response_schema_ref("books", "/v2/address-books/{id}", "get", 200),
    )
    # add contacts (new, existing, PascalCase, numeric datafield)
    add_refs = (
        response_schema_ref("v2", "/v2/address-books/{addressBookId}/contacts", "post", 200),
    )
    added = check(
        dd.post(
            f"/v2/address-books/{book}/contacts",
            json={
                "email": "s1@example.com",
                "dataFields": [{"key": "FIRSTNAME", "value": "S"}, {"key": "AGE", "value": 7}],
            },
        ),
        200,
        *add_refs,
    )
    check(
        dd.post(
            f"/v2/address-books/{book}/contacts",
            json={"Email": "ada@example.com", "OptInType": "Double"},
        ),
        200,
        *add_refs,
    )
    dd.post(
        f"/__emulator/accounts/uk/address-books/{book}/generate",
        auth=None,
        json={"count": 50, "datafields": {"COMPANY": "Co{n}"}, "missing_share": 0.5},
    )
    # members of a book
    for full in ("false", "true"):
        check(
            dd.get(f"/v2/address-books/{book}/contacts?withFullData={full}&select=20"),
            200,
            response_schema_ref("v2", "/v2/address-books/{addressBookId}/contacts", "get", 200),
            response_schema_ref("books", "/v2/address-books/{id}/contacts", "get", 200),
        )
        for date in ("2020-01-01", "2020-01-01T00:00:00Z"):
            check(
                dd.get(
                    f"/v2/address-books/{book}/contacts/modified-since/{date}?withFullData={full}"
                ),
                200,
                response_schema_ref(
                    "v2",
                    "/v2/address-books/{addressBookId}/contacts/modified-since/{date}",
                    "get",
                    200,
                ),
                response_schema_ref(
                    "books", "/v2/address-books/{id}/contacts/modified-since/{date}", "get", 200
                ),
            )
    # contact by id / email
    check(
        dd.get(f"/v2/contacts/{added['id']}"),
        200,
        response_schema_ref("v2", "/v2/contacts/{id}", "get", 200),
    )
    check(
        dd.get("/v2/contacts/member3@example.com"),
        200,
        response_schema_ref("v2", "/v2/contacts/{email}", "get", 200),
    )
    # datafields
    check(
        dd.get("/v2/data-fields"),
        200,
        response_schema_ref("v2", "/v2/data-fields", "get", 200),
        response_schema_ref("datafields", "/v2/data-fields", "get", 200),
    )
    r = dd.post("/v2/data-fields", json={"name": "BIRTHDAY", "type": "Date"})
    assert "201" in _documents()["v2"]["paths"]["/v2/data-fields"]["post"]["responses"]
    check(r, 201, response_schema_ref("datafields", "/v2/data-fields", "post", 201))
    # v3
    v3_ok = response_schema_ref("v3", "/contacts/v3", "get", 200)
    for query in (
        f"~listId={book}&limit=10&data-fields=[[ALL]]&include=lists|channelProperties|consentRecords",
        f"~listId={book}&~modified=gte::2020-01-01T00:00:00Z&limit=5000&data-fields=FIRSTNAME|AGE",
        f"~listId={book}&~created=gte::2020-01-01T00:00:00.000Z",
        "limit=7",
        "~modified=gte::2999-01-01T00:00:00Z",
    ):
        body = check(dd.get(f"/contacts/v3?{query}"), 200, v3_ok)
        if "next" in body["_links"]:
            check(dd.get(body["_links"]["next"]["link"][len(dd.url) :]), 200, v3_ok)
    v3_err = response_schema_ref("v3", "/contacts/v3", "get", 400)
    for query in ("limit=0", "~modified=yesterday", "marker=bogus", "data-fields=NOPE"):
        check(dd.get(f"/contacts/v3?{query}"), 400, v3_err)


def declares(doc: str, path: str, method: str, status: int) -> None:
    """The document declares this status for the operation (used for bodiless answers)."""
    assert str(status) in _documents()[doc]["paths"][path][method]["responses"], (
        f"{doc}: {method.upper()} {path} declares no {status}"
    )


def test_contact_updates_imports_and_removals_match_the_published_schemas(dd):
    """Issue 12's routes: updates (v2 PUT, v3 GET/PATCH), imports (v3 JSON, v2 CSV with status,
    report and faults) and member removal, successes and refusals alike."""
    book = dd.get("/v2/address-books").json()[0]["id"]
    v3_contact = response_schema_ref("v3", "/contacts/v3/{identifier}/{value}", "patch", 200)
    v3_error = component_ref("v3", "errorResponse")
    _check_updates(dd, v3_contact, v3_error)
    _check_v2_imports(dd, book)
    _check_removals(dd, book)
    _check_v3_imports(dd, book, v3_error)  # last: leaves 25 imports unfinished


def _check_updates(dd, v3_contact: str, v3_error: str) -> None:
    ada = dd.get("/v2/contacts/ada@example.com").json()
    check(
        dd.put(
            f"/v2/contacts/{ada['id']}",
            json={"email": "ada@example.com", "dataFields": [{"key": "COMPANY", "value": "X"}]},
        ),
        200,
        # Swagger only: the docs type datafield values as strings (their own example has a
        # null) and declare 201 where the swagger, the server's contract, says 200.
        response_schema_ref("v2", "/v2/contacts/{id}", "put", 200),
    )
    path = "/contacts/v3/{identifier}/{value}"
    check(dd.get("/contacts/v3/email/ada@example.com"), 200, v3_contact)
    check(dd.get(f"/contacts/v3/contactId/{ada['id']}"), 200, v3_contact)
    check(dd.get("/contacts/v3/email/nobody@example.com"), 404, v3_error)
    body = {
        "dataFields": {"FIRSTNAME": "A"},
        "channelProperties": {"email": {"optInType": "double"}},
    }
    check(dd.patch("/contacts/v3/email/ada@example.com", json=body), 200, v3_contact)
    check(
        dd.patch("/contacts/v3/email/new@example.com", json={"lists": [1]}),
        201,
        response_schema_ref("v3", path, "patch", 201),
    )
    check(
        dd.patch("/contacts/v3/email/ada@example.com", json={"dataFields": {"NOPE": 1}}),
        400,
        response_schema_ref("v3", path, "patch", 400),
    )
    check(
        dd.patch(
            f"/contacts/v3/contactId/{ada['id']}",
            json={"identifiers": {"email": "new@example.com"}},
        ),
        409,
        response_schema_ref("v3", path, "patch", 409),
    )
    check(dd.patch("/contacts/v3/contactId/99999999", json={}), 404, v3_error)


def _check_v3_imports(dd, book: int, v3_error: str) -> None:
    records = [
        {"matchIdentifier": "email", "identifiers": {"email": "i1@example.com"}, "lists": [book]},
        {"matchIdentifier": "email", "identifiers": {"email": "ada@example.com"}},
        {"matchIdentifier": "email", "identifiers": {"email": "i1@example.com"}},
        {"matchIdentifier": "email", "identifiers": {"email": "bad@"}},
        {"matchIdentifier": "contactId", "identifiers": {"contactId": 5}},
    ]
    status_ref = response_schema_ref("v3", "/contacts/v3/import/{importId}", "get", 200)
    dd.post("/__emulator/accounts/uk/imports", auth=None, json={"pending_polls": 1})
    accepted = check(
        dd.put("/contacts/v3/import", json={"contacts": records}),
        202,
        response_schema_ref("v3", "/contacts/v3/import", "put", 202),
    )
    pending = check(dd.get(f"/contacts/v3/import/{accepted['importId']}"), 200, status_ref)
    assert pending["status"] == "NotFinished"
    done = check(dd.get(f"/contacts/v3/import/{accepted['importId']}"), 200, status_ref)
    assert done["status"] == "Finished" and done["failures"] and done["created"]
    dd.post("/__emulator/accounts/uk/imports", auth=None, json={"outcome": "RejectedByWatchdog"})
    rejected = dd.put("/contacts/v3/import", json={"contacts": records[:1]}).json()["importId"]
    check(dd.get(f"/contacts/v3/import/{rejected}"), 200, status_ref)
    dd.post("/__emulator/accounts/uk/imports", auth=None, json={"pending_polls": 0})
    check(
        dd.put("/contacts/v3/import", json={"contacts": []}),
        400,
        response_schema_ref("v3", "/contacts/v3/import", "put", 400),
    )
    check(
        dd.get("/contacts/v3/import/d7de900d-d337-43f6-b1e1-c8ec73e1a434"),
        404,
        response_schema_ref("v3", "/contacts/v3/import/{importId}", "get", 404),
    )
    dd.post("/__emulator/accounts/uk/imports", auth=None, json={"pending_polls": 1})
    for _ in range(25):
        dd.put("/contacts/v3/import", json={"contacts": [{**records[0], "lists": []}]})
    check(
        dd.put("/contacts/v3/import", json={"contacts": records[:1]}),
        429,
        response_schema_ref("v3", "/contacts/v3/import", "put", 429),
    )


def _check_v2_imports(dd, book: int) -> None:
    data = base64.b64encode(b"Email,FirstName\nc1@example.com,C\nnope,X\n").decode()
    for path, spec_path, docs in (
        (
            f"/v2/address-books/{book}/contacts/import",
            "/v2/address-books/{addressBookId}/contacts/import",
            None,
        ),
        (
            f"/v2/address-books/{book}/contacts/import/with-merge-option/1",
            "/v2/address-books/{addressBookId}/contacts/import/with-merge-option/{mergeOption}",
            "/v2/address-books/{id}/contacts/import/with-merge-option/{mergeOption}",
        ),
    ):
        refs = [response_schema_ref("v2", spec_path, "post", 202)]
        if docs:
            refs.append(response_schema_ref("books", docs, "post", 202))
        job = check(dd.post(path, json={"fileName": "c.csv", "data": data}), 202, *refs)
        check(
            dd.get(f"/v2/contacts/import/{job['id']}"),
            200,
            response_schema_ref("v2", "/v2/contacts/import/{importId}", "get", 200),
            response_schema_ref("contacts", "/v2/contacts/import/{id}", "get", 200),
        )
        check(
            dd.get(f"/v2/contacts/import/{job['id']}/report"),
            200,
            response_schema_ref("v2", "/v2/contacts/import/{importId}/report", "get", 200),
            response_schema_ref("contacts", "/v2/contacts/import/{id}/report", "get", 200),
        )
        faults = dd.get(f"/v2/contacts/import/{job['id']}/report-faults")
        assert faults.status_code == 200
        content = "application/octet-stream"
        assert faults.headers["Content-Type"] == content
        ref = response_schema_ref(
            "v2", "/v2/contacts/import/{importId}/report-faults", "get", 200, content
        )
        assert_valid(faults.content.decode("utf-8"), ref)
        assert faults.content.decode("utf-8").startswith("Reason,email,firstname\r\n")


def _check_removals(dd, book: int) -> None:
    ids = [c["id"] for c in dd.get(f"/v2/address-books/{book}/contacts").json()]
    assert len(ids) >= 3
    r = dd.delete(f"/v2/address-books/{book}/contacts/{ids[0]}")
    assert r.status_code == 204 and not r.content
    declares("v2", "/v2/address-books/{addressBookId}/contacts/{contactId}", "delete", 204)
    declares("books", "/v2/address-books/{addressBookId}/contacts/{contactId}", "delete", 204)
    started = check(
        dd.post(f"/v2/address-books/{book}/contacts/delete", json=ids[1:2]),
        202,
        response_schema_ref("v2", "/v2/address-books/{addressBookId}/contacts/delete", "post", 202),
        response_schema_ref(
            "books", "/v2/address-books/{addressBookId}/contacts/delete", "post", 202
        ),
    )
    check(
        dd.get(f"/v2/contacts/deletion/{started['id']}"),
        200,
        response_schema_ref("v2", "/v2/contacts/deletion/{deletionRequestId}", "get", 200),
        response_schema_ref("contacts", "/v2/contacts/deletion/{deletionRequestId}", "get", 200),
    )
    check(
        dd.post(f"/v2/address-books/{book}/contacts/delete-all"),
        202,
        response_schema_ref(
            "v2", "/v2/address-books/{addressBookId}/contacts/delete-all", "post", 202
        ),
        response_schema_ref(
            "books", "/v2/address-books/{addressBookId}/contacts/delete-all", "post", 202
        ),
    )
    r = dd.delete(f"/v2/address-books/{book}/contacts")
    assert r.status_code == 204 and not r.content
    declares("v2", "/v2/address-books/{addressBookId}/contacts", "delete", 204)
    v3_ok = response_schema_ref("v3", "/contacts/v3", "get", 200)
    assert check(dd.get(f"/contacts/v3?~listId={book}"), 200, v3_ok)["_items"] == []
