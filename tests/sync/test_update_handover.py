"""The Lead step's read handed to the update step (sync/update_handover.py), called directly:
what is handed over, and when nothing is. Pure: no emulator, no state."""

from __future__ import annotations

from datetime import UTC, datetime

from leadsync.dotdigital.model import Contact
from leadsync.sync.update_handover import ReadHandOver, then_the_rest

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def _contacts(ids, company="Co"):
    return [Contact(i, f"p{i}@example.com", {"COMPANY": company}, "Subscribed") for i in ids]


def test_only_a_read_that_ended_is_handed_over():
    hand = ReadHandOver(limit=10)
    hand.start(1, None, T0, ["COMPANY"])
    hand.page(1, _contacts([1, 2]))
    assert hand.book(1) is None and hand.contact_ids() == set()  # cut short: not handed over
    hand.done(1)
    read = hand.book(1)
    assert read is not None and sorted(read.contacts) == [1, 2] and read.started == T0
    assert read.datafields == frozenset({"COMPANY"}) and hand.contact_ids() == {1, 2}


def test_more_contacts_than_the_limit_hand_nothing_over_and_a_dry_run_keeps_none():
    hand = ReadHandOver(limit=3)
    hand.start(1, None, T0, ["COMPANY"])
    hand.page(1, _contacts([1, 2]))
    hand.done(1)
    hand.start(2, None, T0, ["COMPANY"])
    hand.page(2, _contacts([3, 4]))
    hand.done(2)
    assert hand.book(1) is None and hand.book(2) is None and hand.contact_ids() == set()
    dry = ReadHandOver(limit=0)
    dry.start(1, None, T0, ["COMPANY"])
    dry.page(1, _contacts([1]))
    dry.done(1)
    assert dry.book(1) is None


def test_the_narrow_read_comes_first_and_wins_then_the_rest_once():
    hand = ReadHandOver(limit=10)
    hand.start(1, T0, T0, ["COMPANY"])
    hand.page(1, _contacts([1, 2, 3], "as read"))
    hand.done(1)
    read = hand.book(1)
    narrow = [_contacts([2], "changed since")]
    pages = list(then_the_rest(iter(narrow), read))
    given = [(c.id, c.datafields["COMPANY"]) for page in pages for c in page]
    assert given == [(2, "changed since"), (1, "as read"), (3, "as read")]
    assert read.contacts == {}  # given out once
