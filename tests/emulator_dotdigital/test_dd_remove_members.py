"""Removing members from an address book: one (`DELETE .../contacts/{id}`), some
(`POST .../contacts/delete`), all (`DELETE .../contacts`), and what `~listId` reads then see."""

from __future__ import annotations


def _book(dd) -> int:
    return dd.get("/v2/address-books").json()[0]["id"]


def _fill(dd, book: int, generated: int = 4) -> dict[str, int]:
    """Ada (seeded), two added contacts and `generated` generated members -> email: id."""
    for email in ("bob@example.com", "cy@example.com"):
        dd.post(f"/v2/address-books/{book}/contacts", json={"email": email})
    if generated:
        dd.post(
            f"/__emulator/accounts/uk/address-books/{book}/generate",
            auth=None,
            json={"count": generated},
        )
    return {c["email"]: c["id"] for c in dd.get(f"/v2/address-books/{book}/contacts").json()}


def _list_read(dd, book: int, limit: int = 1000) -> list[str]:
    """Every member through v3 `~listId` paging (following `next` markers)."""
    emails: list[str] = []
    path = f"/contacts/v3?~listId={book}&limit={limit}"
    while path:
        body = dd.get(path).json()
        emails += [c["identifiers"]["email"] for c in body["_items"]]
        nxt = body["_links"].get("next")
        path = nxt["link"][len(dd.url) :] if nxt else None
    return emails


def test_delete_one_member(dd):
    book = _book(dd)
    ids = _fill(dd, book)
    r = dd.delete(f"/v2/address-books/{book}/contacts/{ids['bob@example.com']}")
    assert r.status_code == 204 and r.content == b""
    r = dd.delete(f"/v2/address-books/{book}/contacts/{ids['member1@example.com']}")
    assert r.status_code == 204
    expected = ["ada@example.com", "cy@example.com", "member0@example.com"]
    expected += ["member2@example.com", "member3@example.com"]
    assert _list_read(dd, book) == expected
    assert [c["email"] for c in dd.get(f"/v2/address-books/{book}/contacts").json()] == expected
    assert dd.get(f"/v2/address-books/{book}").json()["contacts"] == 5
    # the contacts themselves stay in the account, no longer listing the book
    bob = dd.get(f"/contacts/v3/contactId/{ids['bob@example.com']}").json()
    assert bob["lists"] == []
    assert dd.get("/contacts/v3/email/member1@example.com").json()["lists"] == []
    # removing again (not a member any more) is fine; an unknown contact is not
    assert (
        dd.delete(f"/v2/address-books/{book}/contacts/{ids['bob@example.com']}").status_code == 204
    )
    missing = dd.delete(f"/v2/address-books/{book}/contacts/999999")
    assert missing.status_code == 404
    assert missing.json()["message"] == "Error: ERROR_CONTACT_NOT_FOUND"


def test_delete_some_members(dd):
    book = _book(dd)
    ids = _fill(dd, book)
    gone = [ids["ada@example.com"], ids["member0@example.com"], ids["member3@example.com"], 424242]
    r = dd.post(f"/v2/address-books/{book}/contacts/delete", json=gone)
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["status"] == "Started"
    progress = dd.get(f"/v2/contacts/deletion/{body['id']}")
    assert progress.json() == {"id": body["id"], "status": "Completed"}
    expected = ["bob@example.com", "cy@example.com", "member1@example.com", "member2@example.com"]
    assert _list_read(dd, book) == expected
    assert dd.get(f"/v2/address-books/{book}").json()["contacts"] == 4


def test_delete_some_refuses_a_body_that_is_not_a_list_of_ids(dd):
    book = _book(dd)
    for body in ({"ids": [1]}, ["1"], [True]):
        r = dd.post(f"/v2/address-books/{book}/contacts/delete", json=body)
        assert r.status_code == 400
        assert r.json()["message"].endswith("ERROR_MALFORMED_REQUEST")
    assert _list_read(dd, book) == ["ada@example.com"]


def test_delete_all_members(dd):
    book = _book(dd)
    _fill(dd, book, generated=1000)
    r = dd.delete(f"/v2/address-books/{book}/contacts")
    assert r.status_code == 204
    assert _list_read(dd, book) == []
    assert dd.get(f"/v2/address-books/{book}/contacts").json() == []
    assert dd.get(f"/v2/address-books/{book}").json()["contacts"] == 0
    assert dd.get("/v2/contacts/member999@example.com").status_code == 200
    # the book fills again, from its start
    dd.post(f"/v2/address-books/{book}/contacts", json={"email": "bob@example.com"})
    assert _list_read(dd, book) == ["bob@example.com"]


def test_delete_all_through_post_delete_all(dd):
    book = _book(dd)
    _fill(dd, book)
    r = dd.post(f"/v2/address-books/{book}/contacts/delete-all")
    assert r.status_code == 202 and r.json()["status"] == "Started"
    assert _list_read(dd, book) == []


def test_removal_while_paging_loses_no_other_member(dd):
    """A client pages a book with `~listId` while members before its marker leave: the next
    page continues where it was (markers are positions that never move)."""
    book = _book(dd)
    ids = _fill(dd, book, generated=6)
    first = dd.get(f"/contacts/v3?~listId={book}&limit=4").json()
    seen = [c["identifiers"]["email"] for c in first["_items"]]
    assert seen == ["ada@example.com", "bob@example.com", "cy@example.com", "member0@example.com"]
    gone = [ids["bob@example.com"], ids["member0@example.com"], ids["member4@example.com"]]
    dd.post(f"/v2/address-books/{book}/contacts/delete", json=gone)
    rest = dd.get(first["_links"]["next"]["link"][len(dd.url) :]).json()
    assert [c["identifiers"]["email"] for c in rest["_items"]] == [
        "member1@example.com",
        "member2@example.com",
        "member3@example.com",
        "member5@example.com",
    ]


def test_a_removed_member_added_again_is_new_in_the_book(dd):
    book = _book(dd)
    ids = _fill(dd, book, generated=2)
    dd.delete(f"/v2/address-books/{book}/contacts/{ids['member1@example.com']}")
    dd.delete(f"/v2/address-books/{book}/contacts/{ids['ada@example.com']}")
    dd.post("/__emulator/clock", auth=None, json={"offset_seconds": 60})
    since = dd.get("/v2/server-time").json()
    for email in ("member1@example.com", "ada@example.com"):
        dd.post(f"/v2/address-books/{book}/contacts", json={"email": email})
    assert _list_read(dd, book)[-2:] == ["member1@example.com", "ada@example.com"]
    fresh = dd.get(f"/contacts/v3?~listId={book}&~modified=gte::{since}").json()["_items"]
    assert [c["identifiers"]["email"] for c in fresh] == ["member1@example.com", "ada@example.com"]
    assert (
        dd.get("/contacts/v3/email/ada@example.com").json()["contactId"] == ids["ada@example.com"]
    )


def test_removing_from_one_book_leaves_the_others(dd):
    book = _book(dd)
    other = dd.post("/v2/address-books", json={"name": "Other"}).json()["id"]
    dd.post(f"/v2/address-books/{other}/contacts", json={"email": "ada@example.com"})
    ada = dd.get("/contacts/v3/email/ada@example.com").json()["contactId"]
    dd.delete(f"/v2/address-books/{book}/contacts/{ada}")
    assert _list_read(dd, book) == []
    assert _list_read(dd, other) == ["ada@example.com"]
    lists = dd.get("/contacts/v3/email/ada@example.com?include=lists").json()["lists"]
    assert [entry["id"] for entry in lists] == [other]


def test_removal_needs_the_book_of_this_account(dd):
    us_book = dd.get("/v2/address-books", auth=dd.us).json()[0]["id"]
    r = dd.delete(f"/v2/address-books/{us_book}/contacts")
    assert r.status_code == 404 and r.json()["message"] == "Error: ERROR_ADDRESSBOOK_NOT_FOUND"
