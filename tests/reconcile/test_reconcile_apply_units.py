"""Pure helpers of apply and status: which books start creating leads, what differs."""

from __future__ import annotations

from leadsync.applied import AppliedIntegration, differences
from leadsync.reconcile.apply import _books_starting


def _resolved(*books):
    return AppliedIntegration.from_json({"accounts": {"uk": {"books": list(books)}}})


def _book(book_id, create_leads=True, backfill=False):
    return {
        "id": book_id,
        "name": f"b{book_id}",
        "create_leads": create_leads,
        "backfill": backfill,
    }


def test_books_starting_lead_creation():
    assert [b.id for _, b in _books_starting(None, _resolved(_book(1), _book(2, False)))] == [1]
    applied = _resolved(_book(1), _book(2, False))
    now = _resolved(_book(1), _book(2), _book(3, backfill=True))
    assert [b.id for _, b in _books_starting(applied, now)] == [2, 3]
    moved = _resolved(_book(9))  # the same name now resolves to another book id
    assert [b.id for _, b in _books_starting(_resolved(_book(1)), moved)] == [9]
    assert _books_starting(applied, _resolved(_book(1, False))) == []


def test_differences_name_paths_not_values():
    a = {"defaults": {"lead_status": "New"}, "accounts": {"uk": {"dotdigital": {"password": "h1"}}}}
    b = {
        "defaults": {"lead_status": "Working"},
        "accounts": {"uk": {"dotdigital": {"password": "h2"}}},
    }
    assert differences(a, b) == ["accounts.uk.dotdigital", "defaults.lead_status"]
    assert differences(a, a) == []
