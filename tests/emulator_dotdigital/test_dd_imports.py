"""Bulk imports: `PUT /contacts/v3/import` + `GET /contacts/v3/import/{id}` (per-record
failures), and the v2 CSV import into an address book with its status, report and faults."""

from __future__ import annotations

import base64
import csv
import io

import pytest


def _book(dd) -> int:
    return dd.get("/v2/address-books").json()[0]["id"]


def _members(dd, book: int) -> list[str]:
    return [c["email"] for c in dd.get(f"/v2/address-books/{book}/contacts").json()]


def _v3_import(dd, contacts: list[dict], merge: str | None = None) -> str:
    body: dict = {"contacts": contacts}
    if merge:
        body["mergeOption"] = merge
    r = dd.put("/contacts/v3/import", json=body)
    assert r.status_code == 202, r.text
    assert set(r.json()) == {"importId"}
    return r.json()["importId"]


def _by_email(email: str, **extra) -> dict:
    return {"matchIdentifier": "email", "identifiers": {"email": email}, **extra}


def test_v3_import_creates_updates_and_reports_each_record(dd):
    book = _book(dd)
    ada_id = dd.get("/contacts/v3/email/ada@example.com").json()["contactId"]
    import_id = _v3_import(
        dd,
        [
            _by_email("new@example.com", dataFields={"FIRSTNAME": "New"}, lists=[book]),
            _by_email("ada@example.com", dataFields={"COMPANY": "Engines"}),
            _by_email("bad@@example", dataFields={"FIRSTNAME": "Bad"}),
            _by_email("NEW@example.com", dataFields={"FIRSTNAME": "Twice"}),
            _by_email("x@example.com", dataFields={"NOPE": "1"}),
            _by_email("y@example.com", lists=[987654]),
            {"matchIdentifier": "contactId", "identifiers": {"contactId": 123}},
        ],
    )
    r = dd.get(f"/contacts/v3/import/{import_id}")
    assert r.status_code == 200, r.text
    status = r.json()
    assert status["importId"] == import_id and status["status"] == "Finished"
    new_id = dd.get("/contacts/v3/email/new@example.com").json()["contactId"]
    assert status["created"] == [{"contactId": new_id, "identifiers": {"email": "new@example.com"}}]
    assert status["updated"] == [{"contactId": ada_id, "identifiers": {"email": "ada@example.com"}}]
    assert status["summary"] == {
        "newContacts": 1,
        "updatedContacts": 1,
        "globallySuppressed": 0,
        "invalidEntries": 4,
        "duplicateIdentifiers": 1,
    }
    codes = {
        (f["identifiers"].get("email"), f["failures"][0]["failureCode"]) for f in status["failures"]
    }
    assert codes == {
        ("bad@@example", "invalidEmail"),
        ("NEW@example.com", "duplicateIdentifier"),
        ("x@example.com", "invalidDataField"),
        ("y@example.com", "invalidList"),
        (None, "contactNotFound"),
    }
    assert all(f["matchIdentifier"] for f in status["failures"])
    # what the import wrote is what the API reads
    assert dd.get("/contacts/v3/email/new@example.com").json()["dataFields"]["FIRSTNAME"] == "New"
    assert dd.get("/contacts/v3/email/ada@example.com").json()["dataFields"]["COMPANY"] == "Engines"
    assert _members(dd, book) == ["ada@example.com", "new@example.com"]
    for email in ("bad@@example", "x@example.com", "y@example.com"):
        assert dd.get(f"/v2/contacts/{email}").status_code == 404


def test_v3_import_merge_option_applies_to_existing_contacts(dd):
    import_id = _v3_import(
        dd,
        [_by_email("ada@example.com", dataFields={"COMPANY": "X", "POSTCODE": "N1"})],
        merge="overwriteIfEmpty",
    )
    assert dd.get(f"/contacts/v3/import/{import_id}").json()["status"] == "Finished"
    fields = dd.get("/contacts/v3/email/ada@example.com").json()["dataFields"]
    assert (fields["COMPANY"], fields["POSTCODE"]) == ("Analytical Engines", "N1")


def test_v3_import_is_applied_only_when_it_finishes(dd):
    """With the account's imports held for two status reads, nothing is written until the
    third read finishes the import, the way a client sees a slow import on the real service."""
    dd.post("/__emulator/accounts/uk/imports", auth=None, json={"pending_polls": 2})
    import_id = _v3_import(dd, [_by_email("late@example.com")])
    for _ in range(2):
        assert dd.get(f"/contacts/v3/import/{import_id}").json() == {
            "importId": import_id,
            "status": "NotFinished",
        }
        assert dd.get("/v2/contacts/late@example.com").status_code == 404
    assert dd.get(f"/contacts/v3/import/{import_id}").json()["status"] == "Finished"
    assert dd.get("/v2/contacts/late@example.com").status_code == 200


def test_v3_import_rejected_by_watchdog_writes_nothing(dd):
    dd.post("/__emulator/accounts/uk/imports", auth=None, json={"outcome": "RejectedByWatchdog"})
    import_id = _v3_import(dd, [_by_email("spam@example.com")])
    assert dd.get(f"/contacts/v3/import/{import_id}").json() == {
        "importId": import_id,
        "status": "RejectedByWatchdog",
    }
    assert dd.get("/v2/contacts/spam@example.com").status_code == 404


def test_too_many_unfinished_imports_are_refused(dd):
    dd.post("/__emulator/accounts/uk/imports", auth=None, json={"pending_polls": 1})
    for i in range(25):
        _v3_import(dd, [_by_email(f"p{i}@example.com")])
    r = dd.put("/contacts/v3/import", json={"contacts": [_by_email("one-more@example.com")]})
    assert r.status_code == 429
    assert r.json()["errorCode"] == "contacts:tooManyActiveImports"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("{not json", "contacts:badJson"),
        ({"contacts": []}, "contacts:validationFailed"),
        (
            {"mergeOption": "merge", "contacts": [_by_email("a@example.com")]},
            "contacts:validationFailed",
        ),
        ([1], "contacts:badJson"),
    ],
)
def test_v3_import_refuses_a_malformed_request(dd, body, code):
    kw = {"data": body} if isinstance(body, str) else {"json": body}
    r = dd.put("/contacts/v3/import", **kw)
    assert r.status_code == 400, r.text
    assert r.json()["errorCode"] == code


def test_v3_import_status_of_an_unknown_import(dd):
    r = dd.get("/contacts/v3/import/d7de900d-d337-43f6-b1e1-c8ec73e1a434")
    assert r.status_code == 404 and r.json()["errorCode"] == "contacts:importNotFound"


# -- v2 CSV ---------------------------------------------------------------------------------


def _csv(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return base64.b64encode(out.getvalue().encode()).decode()


def _csv_import(dd, book: int, rows: list[list[str]], merge: str | None = None, name="c.csv"):
    path = f"/v2/address-books/{book}/contacts/import"
    if merge is not None:
        path += f"/with-merge-option/{merge}"
    r = dd.post(path, json={"fileName": name, "data": _csv(rows)})
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "NotFinished"
    return r.json()["id"]


def test_v2_csv_import_into_a_book_with_status_report_and_faults(dd):
    book = _book(dd)
    dd.post(
        "/__emulator/accounts/uk/contacts/gone@example.com",
        auth=None,
        json={"status": "Unsubscribed"},
    )
    import_id = _csv_import(
        dd,
        book,
        [
            ["Email", "FirstName", "Company", "Shoe size"],
            ["carol@example.com", "Carol", "Acme", "7"],
            ["ada@example.com", "", "Engines", ""],
            ["not-an-email", "X", "", ""],
            ["CAROL@example.com", "Again", "", ""],
            ["gone@example.com", "G", "", ""],
        ],
    )
    assert dd.get(f"/v2/contacts/import/{import_id}").json() == {
        "id": import_id,
        "status": "Finished",
    }
    report = dd.get(f"/v2/contacts/import/{import_id}/report").json()
    assert report["newContacts"] == 1 and report["updatedContacts"] == 1
    assert report["invalidEntries"] == 1 and report["duplicateEmails"] == 1
    assert report["unsubscribed"] == 1 and report["hardBounced"] == 0
    faults = dd.get(f"/v2/contacts/import/{import_id}/report-faults")
    assert faults.status_code == 200
    rows = list(csv.reader(io.StringIO(faults.content.decode("utf-8"))))
    assert rows[0] == ["Reason", "email", "firstname", "company", "shoe size"]
    assert [(row[0], row[1]) for row in rows[1:]] == [
        ("Invalid", "not-an-email"),
        ("Duplicate", "CAROL@example.com"),
        ("Unsubscribed", "gone@example.com"),
    ]
    assert _members(dd, book) == ["ada@example.com", "carol@example.com"]
    carol = dd.get("/contacts/v3/email/carol@example.com").json()["dataFields"]
    assert (carol["FIRSTNAME"], carol["COMPANY"]) == ("Carol", "Acme")
    ada = dd.get("/contacts/v3/email/ada@example.com").json()["dataFields"]
    assert (ada["FIRSTNAME"], ada["COMPANY"]) == (None, "Engines")  # merge 0: empty clears


@pytest.mark.parametrize(("merge", "first", "postcode"), [("1", "Ada", "N1"), ("2", "Ada", "N1")])
def test_v2_csv_merge_options(dd, merge, first, postcode):
    book = _book(dd)
    _csv_import(
        dd,
        book,
        [["email", "firstname", "postcode", "company"], ["ada@example.com", "", "N1", "New Co"]],
        merge,
    )
    fields = dd.get("/contacts/v3/email/ada@example.com").json()["dataFields"]
    assert (fields["FIRSTNAME"], fields["POSTCODE"]) == (first, postcode)
    assert fields["COMPANY"] == ("New Co" if merge == "1" else "Analytical Engines")


@pytest.mark.parametrize(
    ("rows", "name"),
    [([["name"], ["x"]], "c.csv"), ([["email"], ["a@example.com"]], "c.xlsx")],
)
def test_v2_csv_without_an_email_column_or_not_csv_is_an_invalid_file(dd, rows, name):
    book = _book(dd)
    import_id = _csv_import(dd, book, rows, name=name)
    assert dd.get(f"/v2/contacts/import/{import_id}").json()["status"] == "InvalidFileFormat"
    report = dd.get(f"/v2/contacts/import/{import_id}/report")
    assert report.status_code == 404
    assert report.json()["message"] == (
        "Import is not processed yet or completed with error. ERROR_IMPORT_REPORT_NOT_FOUND"
    )
    assert _members(dd, book) == ["ada@example.com"]


def test_v2_import_report_waits_for_the_import(dd):
    book = _book(dd)
    dd.post("/__emulator/accounts/uk/imports", auth=None, json={"pending_polls": 1})
    import_id = _csv_import(dd, book, [["email"], ["slow@example.com"]])
    assert dd.get(f"/v2/contacts/import/{import_id}/report").status_code == 404
    assert dd.get(f"/v2/contacts/import/{import_id}").json()["status"] == "NotFinished"
    assert _members(dd, book) == ["ada@example.com"]
    assert dd.get(f"/v2/contacts/import/{import_id}").json()["status"] == "Finished"
    assert dd.get(f"/v2/contacts/import/{import_id}/report").json()["newContacts"] == 1
    assert _members(dd, book) == ["ada@example.com", "slow@example.com"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v2/address-books/{book}/contacts/import", {"fileName": "c.csv"}),
        ("/v2/address-books/{book}/contacts/import", {"fileName": "c.csv", "data": "%%%"}),
        (
            "/v2/address-books/{book}/contacts/import/with-merge-option/7",
            {"fileName": "c.csv", "data": "ZQ=="},
        ),
    ],
)
def test_v2_import_refuses_a_bad_request(dd, path, body):
    r = dd.post(path.format(book=_book(dd)), json=body)
    assert r.status_code == 400 and r.json()["message"].endswith("ERROR_PARAMETER_INVALID")


def test_v2_import_into_a_missing_book(dd):
    r = dd.post(
        "/v2/address-books/9999/contacts/import",
        json={"fileName": "c.csv", "data": _csv([["email"]])},
    )
    assert r.status_code == 404 and r.json()["message"] == "Error: ERROR_ADDRESSBOOK_NOT_FOUND"
